// Packet flow, headless (issue 23, section 2): which cables of the drawing a captured frame crosses,
// from its Ethernet source and destination and the running lab's MACs.
import { describe, expect, it } from 'vitest';
import { emptyLab, newMachine } from '../../src/renderer/graph/edit.ts';
import { PacketRoutes, type NicMac } from '../../src/renderer/packet-routes.ts';
import type { LabModel } from '../../src/shared/lab-model.ts';

const src = { file: 'lab.yaml', line: 1, column: 1 };
const nicOf = (domain: string, index = 0) => ({ index, domain, ipv4: [], ipv6: [], source: src });

/** pc1, pc2 on switch sw1; pc3 on sw2, linked to sw1; r1 and r2 on a point-to-point hub p2p. */
function lab(): LabModel {
  const pc = (name: string, domain: string) => ({ ...newMachine(name, 'host'), interfaces: [nicOf(domain)] });
  return {
    ...emptyLab('/labs/f', 'f'),
    machines: [pc('pc1', 'sw1'), pc('pc2', 'sw1'), pc('pc3', 'sw2'), pc('r1', 'p2p'), pc('r2', 'p2p')],
    domains: [{ name: 'sw1', kind: 'switch', hostNat: false, source: src }, { name: 'sw2', kind: 'switch', hostNat: false, source: src }],
    switchLinks: [{ a: 'sw1', b: 'sw2', source: src }],
    layout: {},
  };
}

const nics: NicMac[] = [
  { machine: 'pc1', name: 'eth0', domain: 'sw1', mac: '02:00:00:00:00:01' },
  { machine: 'pc2', name: 'eth0', domain: 'sw1', mac: '02:00:00:00:00:02' },
  { machine: 'pc3', name: 'eth0', domain: 'sw2', mac: '02:00:00:00:00:03' },
  { machine: 'r1', name: 'eth0', domain: 'p2p', mac: '02:00:00:00:00:11' },
  { machine: 'r2', name: 'eth0', domain: 'p2p', mac: '02:00:00:00:00:12' },
];

describe('packet routes', () => {
  it('a unicast on one switch: out of the sender cable, into the receiver cable', () => {
    const r = new PacketRoutes(lab(), nics, 'sw1');
    expect(r.tracks('02:00:00:00:00:01', '02:00:00:00:00:02')).toEqual([
      [
        { edge: 'iface:pc1/eth0', from: 'machine:pc1', to: 'domain:sw1' },
        { edge: 'iface:pc2/eth0', from: 'domain:sw1', to: 'machine:pc2' },
      ],
    ]);
  });

  it('across a switch link, captured on a cable', () => {
    const r = new PacketRoutes(lab(), nics, 'pc3:eth0');
    expect([...r.segment].sort()).toEqual(['sw1', 'sw2']);
    expect(r.tracks('02:00:00:00:00:03', '02:00:00:00:00:01')).toEqual([
      [
        { edge: 'iface:pc3/eth0', from: 'machine:pc3', to: 'domain:sw2' },
        { edge: 'link:sw1--sw2', from: 'domain:sw2', to: 'domain:sw1' },
        { edge: 'iface:pc1/eth0', from: 'domain:sw1', to: 'machine:pc1' },
      ],
    ]);
  });

  it('a broadcast fans out to every other interface of the segment, not beyond it', () => {
    const r = new PacketRoutes(lab(), nics, 'sw1');
    const tracks = r.tracks('02:00:00:00:00:01', 'ff:ff:ff:ff:ff:ff');
    expect(tracks.map((t) => t[t.length - 1]!.to).sort()).toEqual(['machine:pc2', 'machine:pc3']);
  });

  it('a point-to-point cable is one hop, either way', () => {
    const r = new PacketRoutes(lab(), nics, 'p2p');
    expect(r.tracks('02:00:00:00:00:12', '02:00:00:00:00:11')).toEqual([[{ edge: 'domain:p2p', from: 'machine:r2', to: 'machine:r1' }]]);
    expect(r.tracks('02:00:00:00:00:11', '33:33:00:00:00:01')).toEqual([[{ edge: 'domain:p2p', from: 'machine:r1', to: 'machine:r2' }]]);
  });

  it('a sender that is no machine appears at the receiver switch; frames of another segment are not drawn', () => {
    const r = new PacketRoutes(lab(), nics, 'sw1');
    expect(r.tracks('52:55:0a:00:02:02', '02:00:00:00:00:02')).toEqual([[{ edge: 'iface:pc2/eth0', from: 'domain:sw1', to: 'machine:pc2' }]]);
    expect(r.tracks('02:00:00:00:00:11', '02:00:00:00:00:12')).toEqual([]);
  });
});
