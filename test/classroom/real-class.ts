// A classroom as `vnetlab classroom serve` runs it: the front door in this process and real,
// supervised `vnetlab classroom worker` processes on Unix sockets (startLocalClassroom, the same code
// the command runs), with the real runtime behind them (no Backends seam). Students log in through
// the invitation flow and use the app's WebSocket like a browser.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClassroomConfig, type ClassroomConfig } from '../../src/main/classroom/config.ts';
import { privateDir, socketBase, startLocalClassroom, workerSecret, type LocalClassroom, type SupervisorOptions } from '../../src/main/classroom/host.ts';
import { hostPaths } from '../../src/main/paths.ts';
import { Browser, classLab, REPO } from './helpers.ts';

export interface RealClass {
  root: string;
  config: ClassroomConfig;
  classroom: LocalClassroom;
  /** What the front door and the supervisor logged (the workers' output too). */
  log: string[];
  base: string;
  enrol(name: string, email: string): Promise<Browser>;
  /** The copy of class lab `labId` of a logged-in student (from /open, as the app gets it). */
  labOf(student: Browser, labId?: string): Promise<string>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Guest images this machine has (the worker boots real guests from them). */
export const IMAGE_DIR = hostPaths(process.env).imageDir;
export function hasImage(name: string): boolean {
  try {
    return readdirSync(IMAGE_DIR).includes(`${name}.ext4`);
  } catch {
    return false;
  }
}

export async function startRealClass(options: { supervisor?: SupervisorOptions; yaml?: string[]; labs?: string[]; staticDir?: string; privateImages?: string[] } = {}): Promise<RealClass> {
  const root = mkdtempSync(join(tmpdir(), 'vcrw-'));
  const lab = classLab(root);
  const port = await freePort();
  const file = join(root, 'classroom.yaml');
  const yaml = [`name: Workers`, `data_dir: ${join(root, 'data')}`, `listen: {host: 127.0.0.1, port: ${port}}`, `public_url: http://127.0.0.1:${port}`, `labs:`, `  - {id: two-hosts, path: ${lab}, title: Two hosts}`, ...(options.labs ?? []), `workers: {local: 1}`, `start_timeout_sec: 120`, ...(options.yaml ?? [])].join('\n');
  writeFileSync(file, `${yaml}\n`);
  const config = parseClassroomConfig(yaml, file);
  privateDir(config.dataDir);
  const secret = workerSecret(config, true);
  // The worker reads the images of this machine (its students' HOME is their own folder).
  const env: NodeJS.ProcessEnv = { ...process.env, VNETLAB_IMAGE_DIR: IMAGE_DIR };
  // A class that runs for minutes gets its own copy of the images it boots: an image rebuilt meanwhile
  // in the shared cache (another test) would leave its guests' disks without their backing file.
  if (options.privateImages?.length) {
    const own = join(root, 'images');
    mkdirSync(own);
    for (const name of options.privateImages) for (const f of [`${name}.ext4`, `${name}.json`]) spawnSync('cp', ['--sparse=always', join(IMAGE_DIR, f), join(own, f)]);
    if (existsSync(join(IMAGE_DIR, 'host'))) cpSync(join(IMAGE_DIR, 'host'), join(own, 'host'), { recursive: true });
    env.VNETLAB_IMAGE_DIR = own;
  }
  delete env.VNETLAB_STATE_DIR;
  delete env.VNETLAB_RUNTIME_DIR;
  const sockets = socketBase(config, env);
  const log: string[] = [];
  const classroom = await startLocalClassroom(config, secret, env, (line) => log.push(line), { supervisor: options.supervisor ?? {}, ...(options.staticDir ? { staticDir: options.staticDir } : {}) });
  const base = config.publicUrl;
  return {
    root,
    config,
    classroom,
    log,
    base,
    enrol: async (name, email) => {
      const { token } = classroom.server.accounts.invite(name, email, 'student');
      const b = new Browser(base);
      const res = await b.setPassword(`${base}/invite?token=${token}`, 'a good long password');
      if (res.status !== 303) throw new Error(`enrol ${email}: ${res.status} ${await res.text()}`);
      return b;
    },
    labOf: async (student, labId = 'two-hosts') => {
      const res = await student.fetch(`/open/${labId}`);
      const location = res.headers.get('location') ?? '';
      const m = /lab=([^&]+)/.exec(location);
      if (!m) throw new Error(`/open/${labId}: ${res.status} ${location}`);
      return decodeURIComponent(m[1]!);
    },
    close: async () => {
      await classroom.close();
      // What a failed test left running in its students' runtime folders: `vnetlab clean --all` ends
      // the processes recorded there (nothing else), then the folders go.
      const runtimes = join(sockets, 'r0');
      for (const student of existsSync(runtimes) ? readdirSync(runtimes) : []) {
        const dir = join(runtimes, student);
        if (readdirSync(dir).length) spawnSync(process.execPath, [join(REPO, 'bin', 'vnetlab.mjs'), 'clean', '--all'], { env: { ...env, VNETLAB_RUNTIME_DIR: dir }, stdio: 'ignore', timeout: 60_000 });
      }
      rmSync(sockets, { recursive: true, force: true });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
