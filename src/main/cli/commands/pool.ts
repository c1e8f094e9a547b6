// `vnetlab pool up|status|down`: the warm pool of booted guests that labs start from (issue 12).
import { totalmem } from 'node:os';
import { DEFAULT_MEMORY_MIB, MAX_MEMORY_MIB, MIN_MEMORY_MIB } from '../../../shared/lab-model.ts';
import { ensureImage } from '../../images/build.ts';
import { hostPaths } from '../../paths.ts';
import { poolRecords, waitPoolGone } from '../../runtime/clean.ts';
import { connectPool, ensurePool, poolTarget } from '../../runtime/pool/pool-client.ts';
import type { PoolStatus } from '../../runtime/pool/protocol.ts';
import type { Command } from '../command.ts';
import { EXIT, UserError } from '../exit-codes.ts';

const DEFAULT_SIZE = 4;
const MAX_SIZE = 64;
/** The pool may promise its guests at most this share of the host's memory (each may grow to its mem=). */
const MAX_MEMORY_SHARE = 0.5;

const command: Command = {
  name: 'pool',
  summary: 'keep booted guests waiting, so that labs start in about a second',
  usage: 'pool up [--size N] [--image NAME] [--memory MIB]\n       vnetlab pool status [--json]\n       vnetlab pool down',
  description: `
A per-user pool of guests that have booted as far as they can without knowing which machine
they will be. vnetlab start, the app's Start and vnetlab check take guests from it for machines
whose disk is fresh (never started, or wiped) and whose image and memory match; the others
boot cold as always. A machine started from the pool is the same as a cold one: its hostname,
MACs, interfaces, /hostlab, /shared, startup script and disk (kept across stop/start, deleted by
wipe). The pool boots replacements in the background once a lab has started, one per core at a time.
  up       start the pool, or change its size for an image (default: ${DEFAULT_SIZE} guests of 'tiny'
           with ${DEFAULT_MEMORY_MIB} MiB, the memory of a machine that asks for none). Machines take
           pooled guests of their own image and memory only: run it once per kind you want pooled.
           Waits until the guests are booted.
  status   ready and booting guests per image, and the memory they use (--json too).
  down     end every pooled guest and the pool's process.
vnetlab clean --all ends the pool too. VNETLAB_POOL=0 makes a start boot every machine cold.
Examples:
  vnetlab pool up --size 10
  vnetlab pool up --memory 64 --size 2     (labs/two-hosts asks for 64 MiB per machine)
  vnetlab pool up --image debian --size 3
  vnetlab pool status`,
  flags: {
    size: { type: 'string', valueName: 'N', description: `up: how many guests of the image to keep (default ${DEFAULT_SIZE}; 0 drops the image)` },
    image: { type: 'string', valueName: 'NAME', description: "up: the image of the pooled guests (default 'tiny')" },
    memory: { type: 'string', valueName: 'MIB', description: `up: their memory (default ${DEFAULT_MEMORY_MIB}, as machines that ask for none)` },
    json: { type: 'boolean', description: 'status: print JSON' },
  },
  async run(args, io) {
    const [sub, ...more] = args.positionals;
    if (more.length) throw new UserError(`unexpected argument ${more[0]}`, EXIT.badInput, `usage: vnetlab ${command.usage.split('\n')[0]}`);
    const paths = hostPaths(io.env);
    if (sub === 'up') {
      const image = typeof args.flags.image === 'string' ? args.flags.image : 'tiny';
      const size = parseSize(args.flags.size);
      await ensureImage(image, { env: io.env, progress: (m) => io.stderr.write(`image ${image}: ${m}\n`) });
      const target = poolTarget(image, size, parseMemory(args.flags.memory), io.env);
      const promised = (size * target.memoryMiB) / 1024;
      if (promised > (totalmem() / 2 ** 30) * MAX_MEMORY_SHARE) {
        throw new UserError(
          `${size} ${image} guests of ${target.memoryMiB} MiB could use ${promised.toFixed(1)} GiB, more than half of this machine's memory`,
          EXIT.badInput,
          `ask for fewer: vnetlab pool up --image ${image} --size ${Math.max(1, Math.floor(((totalmem() / 2 ** 20) * MAX_MEMORY_SHARE) / target.memoryMiB))}`,
        );
      }
      const pool = await ensurePool(io.env);
      try {
        if (size > 0) io.stderr.write(`booting ${size} ${image} guest${size === 1 ? '' : 's'}…\n`);
        const status = await pool.call('up', { targets: [target] });
        const mine = status.images.find((i) => i.image === image);
        if (size > 0 && mine && mine.ready < size) {
          throw new UserError(`only ${mine.ready} of ${size} ${image} guests booted`, EXIT.environment, `see ${paths.runtimeRoot}/pool/pool.log`);
        }
        io.stdout.write(size > 0 ? `pool: ${mine?.ready ?? 0} ${image} guests ready (${target.memoryMiB} MiB each at most; ${mib(mine?.rssBytes ?? 0)} resident now)\n` : `pool: no more ${image} guests\n`);
      } finally {
        pool.close();
      }
      return EXIT.ok;
    }
    if (sub === 'status') {
      const pool = await connectPool(paths);
      const json = args.flags.json === true;
      if (!pool) {
        io.stdout.write(json ? `${JSON.stringify({ running: false, images: [] })}\n` : 'no pool is running (start one: vnetlab pool up)\n');
        return EXIT.ok;
      }
      try {
        const status = await pool.call('status', {});
        io.stdout.write(json ? `${JSON.stringify({ running: true, ...status }, null, 2)}\n` : formatStatus(status));
      } finally {
        pool.close();
      }
      return EXIT.ok;
    }
    if (sub === 'down') {
      const pool = await connectPool(paths);
      if (!pool) {
        io.stdout.write('no pool is running\n');
        return EXIT.ok;
      }
      const known = poolRecords(paths);
      await pool.call('down', {}).finally(() => pool.close());
      if (!(await waitPoolGone(paths, known))) throw new UserError('the pool did not stop within 30 s', EXIT.environment, 'end it: vnetlab clean --all');
      io.stdout.write('pool stopped\n');
      return EXIT.ok;
    }
    throw new UserError(sub ? `unknown pool command '${sub}'` : 'pool what?', EXIT.badInput, `usage: vnetlab ${command.usage}`);
  },
};

function parseMemory(value: unknown): number {
  if (value === undefined) return DEFAULT_MEMORY_MIB;
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_MEMORY_MIB || n > MAX_MEMORY_MIB) {
    throw new UserError(`--memory must be a whole number of MiB from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}, got '${String(value)}'`, EXIT.badInput);
  }
  return n;
}

function parseSize(value: unknown): number {
  if (value === undefined) return DEFAULT_SIZE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > MAX_SIZE) throw new UserError(`--size must be a whole number from 0 to ${MAX_SIZE}, got '${String(value)}'`, EXIT.badInput);
  return n;
}

function formatStatus(status: PoolStatus): string {
  const rows = [['IMAGE', 'SIZE', 'READY', 'BOOTING', 'MEMORY', 'RESIDENT']];
  for (const i of status.images) rows.push([i.image, String(i.size), String(i.ready), String(i.booting), `${i.memoryMiB} MiB each`, mib(i.rssBytes)]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
  return `pool process ${status.pid}; ${status.claimed} guests handed to labs so far; ${mib(status.rssBytes)} resident\n${table}\n`;
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

export default command;
