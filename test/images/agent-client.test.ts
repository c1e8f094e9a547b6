// AgentClient against a scripted guest end: lines cut anywhere, junk before the agent starts, the send
// window. The real agent is exercised by tiny.test.ts; this covers what a real guest rarely produces.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/main/guest/agent-client.ts';

function pair() {
  const fromGuest = new PassThrough();
  const toGuest = new PassThrough();
  const sent: string[] = [];
  let pending = '';
  toGuest.on('data', (d: Buffer) => {
    pending += d.toString('latin1');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    sent.push(...lines);
  });
  return { client: new AgentClient(fromGuest, toGuest), fromGuest, toGuest, sent };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const tick = () => new Promise((r) => setImmediate(r));

describe('AgentClient', () => {
  it('reassembles lines split at any byte and ignores lines that are not protocol', async () => {
    const { client, fromGuest, sent } = pair();
    const ready = client.waitReady(5_000);
    const result = client.exec('echo hi');
    await tick();
    expect(sent[0]).toBe('P 0');
    expect(sent[1]).toBe(`X 1 0 ${b64('echo hi')}`);
    expect(sent[2]).toBe('C 1');
    const stream = `P 0\r\nsome console echo\nR 3\nO 1 ${b64('hel')}\nO 1 ${b64('lo\n')}\nE 1 ${b64('warn\n')}\nD 1 5\n`;
    for (const ch of stream) fromGuest.write(ch);
    expect(await ready).toBe(3);
    expect(await result).toEqual({ stdout: 'hello\n', stderr: 'warn\n', exitCode: 5, timedOut: false });
  });

  it('does not count what it sent before the agent spoke (pings during boot may be dropped)', async () => {
    const { client, fromGuest, sent } = pair();
    const ready = client.waitReady(60_000);
    for (let i = 0; i < 1000; i++) (client as unknown as { send(l: string): void }).send('P 0'); // a long boot's pings
    await tick();
    expect(sent.length).toBeGreaterThanOrEqual(1000);
    fromGuest.write('B\nR 0\n');
    expect(await ready).toBe(0);
    const result = client.exec('true');
    await tick();
    expect(sent).toContain(`X 1 0 ${b64('true')}`);
    fromGuest.write('D 1 0\n');
    expect((await result).exitCode).toBe(0);
  });

  it('keeps at most 2 KB unacknowledged and sends the rest as the guest acknowledges', async () => {
    const { client, fromGuest, sent } = pair();
    fromGuest.write('R 0\n');
    await tick();
    const written: number[] = [];
    const result = client.exec('wc -c', { stdin: 'x'.repeat(10_000) });
    await tick();
    const bytesSent = () => sent.reduce((n, l) => n + l.length + 1, 0);
    written.push(bytesSent());
    expect(written[0]).toBeLessThanOrEqual(2048);
    fromGuest.write(`A ${written[0]}\n`);
    await tick();
    expect(bytesSent()).toBeGreaterThan(written[0]!);
    expect(bytesSent()).toBeLessThanOrEqual(written[0]! + 2048);
    // Acknowledge everything until the whole stdin and the close went out.
    for (let i = 0; i < 20 && !sent.includes('C 1'); i++) {
      fromGuest.write(`A 2048\n`);
      await tick();
    }
    const stdin = Buffer.concat(sent.filter((l) => l.startsWith('I 1 ')).map((l) => Buffer.from(l.slice(4), 'base64')));
    expect(stdin.toString()).toBe('x'.repeat(10_000));
    expect(sent.at(-1)).toBe('C 1');
    fromGuest.write(`O 1 ${b64('10000\n')}\nD 1 0\n`);
    expect((await result).stdout).toBe('10000\n');
  });

  it('fails pending calls when the channel closes, and says why', async () => {
    const { client, fromGuest } = pair();
    const result = client.exec('sleep 100');
    fromGuest.end();
    await expect(result).rejects.toThrow(/closed/);
    await expect(client.exec('true')).rejects.toThrow(/closed/);
  });

  it('gives up waiting for readiness after its timeout with a clear message', async () => {
    const { client } = pair();
    await expect(client.waitReady(200)).rejects.toThrow(/not ready after/);
  });

  it('answers ping with the boot state', async () => {
    const { client, fromGuest } = pair();
    const booting = client.ping();
    fromGuest.write('B\n');
    expect(await booting).toEqual({ ready: false });
    const ready = client.ping();
    fromGuest.write('R 0\n');
    expect(await ready).toEqual({ ready: true, startupExitCode: 0 });
  });
});
