// What recording a console costs (issue 19: exam consoles are recorded as asciicast v2 in the lab's
// supervisor, runtime/console-record.ts): the console keystroke round trip (client → supervisor socket →
// pty → guest echo → back) of a machine whose console is recorded, against one whose console is not,
// measured in the same run. Both labs run at once; the keystrokes alternate between them in batches,
// so load from other work on the host hits both alike.
// Run: npx tsx bench/recording.ts [--rounds N] [--keys K]   (default 10 rounds of 40 keys each)
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hostPaths, labIdFor, labStateDir } from '../src/main/paths.ts';
import type { SupervisorClient } from '../src/main/runtime/client.ts';
import { parseCast } from '../src/main/runtime/console-record.ts';
import { launchLab } from '../src/main/runtime/launch.ts';
import { runBench } from './harness.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = flag('--rounds', 10);
const KEYS = flag('--keys', 40);

const base = mkdtempSync(join(tmpdir(), 'vbrec-'));
process.env.HOME = join(base, 'home');
process.env.VNETLAB_RUNTIME_DIR = join(base, 'r');
process.env.VNETLAB_STATE_DIR = join(base, 'state');
process.env.VNETLAB_IMAGE_DIR = hostPaths(process.env).imageDir;
delete process.env.VNETLAB_CONSOLE_RECORD;

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Lab {
  root: string;
  sup: SupervisorClient;
  write(s: string): void;
  output(): string;
  times: number[];
}

async function startLab(name: string, record: boolean): Promise<Lab> {
  const root = join(base, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'lab.yaml'), `lab:\n  name: ${name}\nmachines:\n  h0:\n    image: tiny\n    memory: 64\n    interfaces:\n      - {domain: lan, ipv4: 10.0.0.1/24}\ndomains:\n  lan: {kind: hub}\n`);
  const env = { ...process.env, ...(record ? { VNETLAB_CONSOLE_RECORD: '1' } : {}) };
  const { client, result } = await launchLab(root, { env, timeoutMs: 180_000 });
  if (!result.ok) throw new Error(`${name} did not start`);
  let out = '';
  const view = await client.attachConsole('h0', { onData: (d) => (out += d) });
  view.write('\r');
  await new Promise((r) => setTimeout(r, 500));
  return { root, sup: client, write: (s) => view.write(s), output: () => out, times: [] };
}

/** KEYS keystrokes, each timed from the write to its echo. */
async function batch(lab: Lab): Promise<void> {
  for (let i = 0; i < KEYS; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const before = lab.output().length;
    const t0 = performance.now();
    lab.write(key);
    await until(() => lab.output().slice(before).includes(key), 5_000);
    lab.times.push(performance.now() - t0);
  }
  lab.write('\x15'); // Ctrl-U: clear the line
  await new Promise((r) => setTimeout(r, 50));
}

async function main(): Promise<void> {
  console.log(`vnetlab recording bench: ${ROUNDS} rounds of ${KEYS} keystrokes on each of two one-machine labs, one recorded`);
  const plain = await startLab('plain', false);
  const recorded = await startLab('recorded', true);
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first, so neither always follows the other.
      for (const lab of r % 2 ? [recorded, plain] : [plain, recorded]) await batch(lab);
    }
    const [p, q] = [median(plain.times), median(recorded.times)];
    const p90 = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length * 0.9)]!;
    console.log(`console keystroke round trip: ${q.toFixed(2)} ms recorded, ${p.toFixed(2)} ms not recorded (median of ${plain.times.length} each; p90 ${p90(recorded.times).toFixed(2)} vs ${p90(plain.times).toFixed(2)} ms)`);
    console.log(`  recording adds ${(((q - p) / p) * 100).toFixed(1)} % (target ≤ 10 %)`);
    const cast = join(labStateDir(hostPaths(process.env), labIdFor(recorded.root, 'recorded')), 'recordings', 'h0.cast');
    const { events } = parseCast(readFileSync(cast, 'utf8'));
    const keys = events.filter((e) => e[1] === 'i').length;
    console.log(`  recording: ${events.length} events (${keys} keystrokes) in ${(statSync(cast).size / 1024).toFixed(1)} KiB`);
    if (keys < ROUNDS * KEYS) throw new Error(`the recording holds ${keys} keystrokes, fewer than the ${ROUNDS * KEYS} typed`);
  } finally {
    for (const lab of [plain, recorded]) {
      await lab.sup.shutdown('crash');
      await lab.sup.waitClosed();
    }
  }
}

runBench(main, process.env, base);
