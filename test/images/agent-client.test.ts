// AgentClient against a scripted guest end: lines cut anywhere, junk before the agent starts, the send
// window. The real agent is exercised by tiny.test.ts; this covers what a real guest rarely produces.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AgentClient, MAX_GUEST_LINE, parseGuestLine } from '../../src/main/guest/agent-client.ts';
import { connectAgent } from '../../src/main/runtime/agent.ts';
import { LINK_WATCH_COMMAND } from '../../src/main/runtime/link-watch.ts';

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
  const dropped: { line: string; reason: string }[] = [];
  const client = new AgentClient(fromGuest, toGuest, { onMalformed: (line, reason) => dropped.push({ line, reason }) });
  return { client, fromGuest, toGuest, sent, dropped };
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

  it('asks for a halt only of an agent that said it takes one (V 1), and counts its answer or its end as taken', async () => {
    const old = pair();
    old.fromGuest.write('B\nR 0\n');
    await tick();
    expect(await old.client.requestHalt(5_000)).toBe(false);
    expect(old.sent).not.toContain('H 0');

    const answers = pair();
    answers.fromGuest.write('V 1\nB\nR 0\n');
    await tick();
    const taken = answers.client.requestHalt(5_000);
    await tick();
    expect(answers.sent).toContain('H 0');
    answers.fromGuest.write('H\n');
    expect(await taken).toBe(true);

    // Under load the guest may be gone before its answer got out: the channel's end means it went down.
    const ends = pair();
    ends.fromGuest.write('V 1\nB\nR 0\n');
    await tick();
    const ended = ends.client.requestHalt(5_000);
    await tick();
    ends.fromGuest.end();
    expect(await ended).toBe(true);

    const silent = pair();
    silent.fromGuest.write('V 1\nR 0\n');
    await tick();
    expect(await silent.client.requestHalt(50)).toBe(false);
  });

  it('asks an agent that said V 2 for its link watch (S), streams its lines, and leaves an older agent to the caller', async () => {
    const older = pair();
    older.fromGuest.write('V 1\nB\nR 0\n');
    await tick();
    expect(older.client.watchLinks(() => {})).toBeUndefined();
    expect(older.sent.filter((l) => l.startsWith('S'))).toEqual([]);

    const agent = pair();
    agent.fromGuest.write('V 2\nB\nR 0\n');
    await tick();
    const seen: string[] = [];
    const watch = agent.client.watchLinks((chunk) => seen.push(chunk.toString()))!;
    await tick();
    const request = agent.sent.find((l) => l.startsWith('S '))!;
    expect(request).toMatch(/^S [1-9]\d*$/);
    const id = request.slice(2);
    agent.fromGuest.write(`O ${id} ${b64('links eth0=up\n')}\nO ${id} ${b64('links eth0=down\n')}\n`);
    await tick();
    expect(seen).toEqual(['links eth0=up\n', 'links eth0=down\n']);
    agent.client.kill(Number(id));
    await tick();
    expect(agent.sent).toContain(`K ${id}`);
    agent.fromGuest.write(`D ${id} 137\n`);
    // Streamed only: a watch that runs for hours keeps nothing.
    expect(await watch).toEqual({ stdout: '', stderr: '', exitCode: 137, timedOut: false });

    // The agent keeps one watch and says nothing more of one it replaced: the client ends the first itself.
    const first = agent.client.watchLinks(() => {})!;
    const second = agent.client.watchLinks(() => {})!;
    expect((await first).exitCode).toBe(0);
    await tick();
    const [a, b] = agent.sent.filter((l) => l.startsWith('S ')).slice(-2).map((l) => l.slice(2));
    agent.fromGuest.write(`D ${b} 137\n`);
    expect((await second).exitCode).toBe(137);
    expect(a).not.toBe(b);
  });

  it('runs the link watch as a command for an agent older than S (the supervisor side, runtime/agent.ts)', async () => {
    const fromGuest = new PassThrough();
    const toGuest = new PassThrough();
    const sent: string[] = [];
    toGuest.on('data', (d: Buffer) => sent.push(...d.toString('latin1').split('\n').filter(Boolean)));
    const agent = await connectAgent(fromGuest, toGuest);
    fromGuest.write('V 1\nB\nR 0\n');
    await tick();
    const lines: string[] = [];
    const watch = agent.watchLinks((text) => lines.push(text));
    await tick();
    const run = sent.find((l) => l.startsWith('T '))!;
    const [, id, , command] = run.split(' ');
    expect(Buffer.from(command!, 'base64').toString()).toBe(LINK_WATCH_COMMAND);
    fromGuest.write(`O ${id} ${b64('links eth0=up\n')}\nD ${id} 0\n`);
    expect((await watch).exitCode).toBe(0);
    expect(lines).toEqual(['links eth0=up\n']);
    agent.close();
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

// Issue 18: root in a guest writes what it likes on /dev/ttyS0. Every field is checked; a bad line is
// dropped and reported, and the channel goes on (test/runtime/guest-inputs.test.ts does it on a real guest).
describe('what a guest says, checked field by field', () => {
  const issued = (id: number) => id >= 1 && id <= 3;

  it('accepts what the agent sends', () => {
    expect(parseGuestLine('R 0', issued)).toEqual({ kind: 'R', code: 0 });
    expect(parseGuestLine('R 255', issued)).toEqual({ kind: 'R', code: 255 });
    expect(parseGuestLine('B', issued)).toEqual({ kind: 'B' });
    expect(parseGuestLine('W', issued)).toEqual({ kind: 'W' });
    expect(parseGuestLine('A 2048', issued)).toEqual({ kind: 'A', bytes: 2048 });
    expect(parseGuestLine(`O 1 ${b64('hi\n')}`, issued)).toEqual({ kind: 'O', id: 1, data: Buffer.from('hi\n') });
    expect(parseGuestLine(`E 3 ${b64('x'.repeat(3072))}`, issued)).toMatchObject({ kind: 'E', id: 3 });
    expect(parseGuestLine('D 2 137', issued)).toEqual({ kind: 'D', id: 2, code: 137 });
    expect(parseGuestLine(`L ${b64('startup: ok')}`, issued)).toEqual({ kind: 'L', text: Buffer.from('startup: ok') });
    expect(parseGuestLine('V 1', issued)).toEqual({ kind: 'V', level: 1 });
    expect(parseGuestLine('H', issued)).toEqual({ kind: 'H' });
    // …and our own halt request echoed back before the tty went raw is not the guest's answer.
    expect(parseGuestLine('H 0', issued)).toEqual({ kind: 'ignore' });
    // Echoes of our own lines from before the tty went raw, and empty lines: ignored without a word.
    for (const echo of ['', 'P 0', `X 1 0 ${b64('true')}`, 'C 1', 'K 1', 'I 1 aGk=', 'N abc']) expect(parseGuestLine(echo, issued)).toEqual({ kind: 'ignore' });
  });

  it.each([
    ['A -2000000000', /byte count/],
    ['A 99999999999', /byte count/],
    ['A 4194305', /byte count/],
    ['A 1e9', /byte count/],
    ['A 0x10', /byte count/],
    ['A', /takes 1 field/],
    ['A 1 2', /takes 1 field/],
    ['R -1', /exit code/],
    ['R 256', /exit code/],
    ['R NaN', /exit code/],
    ['R', /takes 1 field/],
    ['B 1', /takes 0 fields/],
    ['V', /takes 1 field/],
    ['V -1', /protocol level/],
    ['V 1 2', /takes 1 field/],
    ['D 1 -9', /exit code/],
    ['D 1 99999999999999999999', /exit code/],
    ['D 1', /takes 2 fields/],
    ['D 4 0', /never issued/],
    ['D 0 0', /not a command id/],
    ['D -1 0', /not a command id/],
    ['D 01 0', /not a command id/],
    ['D 9007199254740993 0', /not a command id/],
    ['O 1 !!!!', /base64/],
    ['O 1 aGk', /base64/],
    ['O 1 a===', /base64/],
    ['O 1 aGk=aGk=', /base64/],
    [`O 1 ${'A'.repeat(4100)}`, /base64 characters/],
    ['O 7 aGk=', /never issued/],
    ['O 1  aGk=', /takes 2 fields/],
    ['E 1', /takes 2 fields/],
    ['L %%%%', /base64/],
    ['Z 1 2', /not a message/],
    ['some console noise', /not a message/],
    ['\u0000\u0001 binary', /not a message/],
    [`O 1 ${'A'.repeat(MAX_GUEST_LINE)}`, /longer than/],
  ])('drops %j', (line, reason) => {
    const parsed = parseGuestLine(line, issued);
    expect(parsed.kind).toBe('malformed');
    expect((parsed as { reason: string }).reason).toMatch(reason);
  });

  it('a bogus acknowledgement does not wedge the send window: later execs still run', async () => {
    const { client, fromGuest, sent, dropped } = pair();
    fromGuest.write('R 0\n');
    await tick();
    // Before the fix, `A -2000000000` added two billion bytes "in flight": nothing was ever sent again.
    fromGuest.write('A -2000000000\nA 1e99\nA -1\n');
    await tick();
    expect(dropped.map((d) => d.line)).toEqual(['A -2000000000', 'A 1e99', 'A -1']);
    const result = client.exec('wc -c', { stdin: 'y'.repeat(6000) });
    await tick();
    for (let i = 0; i < 20 && !sent.includes('C 1'); i++) {
      fromGuest.write('A 2048\n');
      await tick();
    }
    expect(sent).toContain('C 1');
    fromGuest.write(`O 1 ${b64('6000\n')}\nD 1 0\n`);
    expect(await result).toEqual({ stdout: '6000\n', stderr: '', exitCode: 0, timedOut: false });
  });

  it('forged output and exits for ids never issued, and malformed ones for real ids, change nothing', async () => {
    const { client, fromGuest, dropped } = pair();
    fromGuest.write('R 0\n');
    const result = client.exec('echo real');
    await tick();
    fromGuest.write(`O 2 ${b64('forged')}\nD 2 0\nD 1 -2000000000\nD 1 NaN\nO 1 @@@@\nE 1 ${b64('x')}${b64('y')}\nD 1\n`);
    fromGuest.write(`O 1 ${b64('real\n')}\nD 1 0\n`);
    expect(await result).toEqual({ stdout: 'real\n', stderr: '', exitCode: 0, timedOut: false });
    expect(dropped).toHaveLength(7);
    expect(client.malformedLines).toBe(7);
    // A late line for a command that is over is not an error: the host may have given up on it first.
    fromGuest.write('D 1 0\n');
    await tick();
    expect(dropped).toHaveLength(7);
  });

  it('an endless line is dropped once, bounded in memory, and the channel resynchronises at the next newline', async () => {
    const { client, fromGuest, dropped } = pair();
    fromGuest.write('R 0\n');
    const result = client.exec('true');
    await tick();
    // 1 MB without a newline, in pieces, that would read as `D 1 0` if the host kept only its tail.
    fromGuest.write('O 1 ');
    for (let i = 0; i < 256; i++) fromGuest.write('A'.repeat(4096));
    fromGuest.write('\nD 1 0');
    await tick();
    expect((client as unknown as { partial: string }).partial.length).toBeLessThanOrEqual(MAX_GUEST_LINE + 1);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.reason).toMatch(/longer than 8192/);
    fromGuest.write(' \nD 1 3\n'); // `D 1 0 ` (a third field): dropped; then the real exit
    expect((await result).exitCode).toBe(3);
    expect(dropped).toHaveLength(2);
  });

  it('survives random bytes from the guest and still runs commands afterwards', async () => {
    const { client, fromGuest } = pair();
    fromGuest.write('R 0\n');
    let seed = 18;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const kind = 'ROEDLBAWZ'[Math.floor(random() * 9)]!;
      const junk = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256))).toString('latin1');
      const fields = [kind, String(Math.floor((random() - 0.5) * 2 ** 40)), junk].slice(0, 1 + Math.floor(random() * 3));
      fromGuest.write(`${fields.join(' ')}\n`);
    }
    await tick();
    const result = client.exec('true');
    await tick();
    fromGuest.write('D 1 0\n');
    expect((await result).exitCode).toBe(0);
  });
});
