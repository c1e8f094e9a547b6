// What a guest is told when one of its cables changes (src/main/runtime/cable-news.ts): the carrier on
// --up/--down, and a flush of that NIC's neighbour entries whenever the cable is back in a domain (issue 21).
import { describe, expect, it } from 'vitest';
import { cableNews, carrierNews } from '../../src/main/runtime/cable-news.ts';
import type { CableStatus } from '../../src/shared/runtime-api.ts';

const cable = (domain: string, plugged: boolean, iface = 'eth0'): CableStatus => ({
  id: `pc1:${iface}`,
  machine: 'pc1',
  interface: iface,
  domain,
  plugged,
  state: plugged ? 'up' : 'unplugged',
  impairments: {},
});

describe('cableNews', () => {
  it('plugged again: carrier on, then the neighbour entries learnt while it was out are flushed', () => {
    expect(cableNews(cable('lan', false), cable('lan', true), { plugged: true })).toEqual({
      command: '/usr/sbin/vnetlab-agent --carrier eth0 on && ip neigh flush dev eth0 > /dev/null',
      failure: "could not show eth0's cable as plugged or flush eth0's neighbour entries in the guest",
    });
  });

  it('moved to another domain while plugged: only the flush (the carrier never dropped)', () => {
    expect(cableNews(cable('lan', true), cable('other', true), {})?.command).toBe('ip neigh flush dev eth0 > /dev/null');
  });

  it('unplugged: carrier off, nothing flushed; moved while unplugged: nothing to tell until it is plugged', () => {
    expect(cableNews(cable('lan', true), cable('lan', false), { plugged: false })?.command).toBe('/usr/sbin/vnetlab-agent --carrier eth0 off');
    expect(cableNews(cable('lan', false), cable('other', false), {})).toBeUndefined();
  });

  it('--up on a cable already up says the carrier again but flushes nothing; an impairment tells nothing', () => {
    expect(cableNews(cable('lan', true), cable('lan', true), { plugged: true })?.command).toBe('/usr/sbin/vnetlab-agent --carrier eth0 on');
    expect(cableNews(cable('lan', true), cable('lan', true), {})).toBeUndefined();
  });

  it('a switch link (no machine NIC) or an odd interface name is never put in a command', () => {
    expect(cableNews(cable('a', false, ''), cable('b', true, ''), { plugged: true })).toBeUndefined();
    expect(cableNews(cable('a', false, 'eth0; reboot'), cable('a', true, 'eth0; reboot'), { plugged: true })).toBeUndefined();
    expect(carrierNews('eth1', false)?.command).toBe('/usr/sbin/vnetlab-agent --carrier eth1 off');
    expect(carrierNews('x y', false)).toBeUndefined();
  });
});
