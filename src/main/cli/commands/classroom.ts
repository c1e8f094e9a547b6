// `vnetlab classroom serve|worker|invite|roster --config classroom.yaml`: a whole class in browsers.
// See docs/classroom.md.
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AccountStore, type Role } from '../../classroom/accounts.ts';
import { loadClassroomConfig } from '../../classroom/config.ts';
import { privateDir, socketBase, startLocalClassroom, workerSecret } from '../../classroom/host.ts';
import { serveWorker, variantKeyOf, WorkerCore } from '../../classroom/worker.ts';
import { confinementFor } from '../../runtime/confinement.ts';
import { HOST_NAT_ENV } from '../../runtime/network/network.ts';
import { ensureRenderer } from '../../server/app-host.ts';
import type { Command } from '../command.ts';
import { UserError } from '../exit-codes.ts';
import { exitSoon, waitForSignal } from './app.ts';

const command: Command = {
  name: 'classroom',
  summary: 'serve labs to a whole class in browsers (accounts, per-student copies, quotas, dashboard)',
  usage: 'classroom serve|worker|invite|roster --config classroom.yaml [options]',
  description: `
  serve    the front door (login, the app, the instructor's dashboard) and, unless the config
           names remote workers, the local worker processes that run the students' labs
  worker   one worker (the cluster runs one per pod); listens on --listen unix:PATH | tcp:HOST:PORT
  invite   add (or re-invite) one account and print its one-time invitation link
  roster   import a CSV of name,email and print each student's invitation link

Never serves without a login: HTTPS with tls: {cert, key}, or plain HTTP on 127.0.0.1 or behind a
TLS proxy (behind_proxy: true). See docs/classroom.md.

Examples:
  vnetlab classroom invite --config classroom.yaml --name "Ada Lovelace" --email ada@uni.edu --role instructor
  vnetlab classroom roster --config classroom.yaml students.csv
  vnetlab classroom serve --config classroom.yaml`,
  flags: {
    config: { type: 'string', description: 'the classroom config (YAML)', valueName: 'FILE' },
    name: { type: 'string', description: 'invite: the person\'s name', valueName: 'NAME' },
    email: { type: 'string', description: 'invite: their e-mail', valueName: 'EMAIL' },
    role: { type: 'string', description: 'invite/roster: student (default) or instructor', valueName: 'ROLE' },
    index: { type: 'string', description: 'worker: its index (default: the ordinal of a StatefulSet pod name, else 0)', valueName: 'N' },
    listen: { type: 'string', description: 'worker: unix:PATH or tcp:HOST:PORT', valueName: 'ADDR' },
    data: { type: 'string', description: 'worker: its data folder (default: <data_dir>/worker-<index>)', valueName: 'DIR' },
  },
  async run(args, io) {
    const [sub, ...rest] = args.positionals;
    if (!sub || !['serve', 'worker', 'invite', 'roster'].includes(sub)) throw new UserError(`classroom needs a subcommand: serve, worker, invite or roster${sub ? `, not '${sub}'` : ''}`, 2, 'vnetlab classroom --help');
    if (typeof args.flags.config !== 'string') throw new UserError('--config FILE is required', 2, 'see docs/classroom.md for an example classroom.yaml');
    const config = loadClassroomConfig(resolve(io.cwd, args.flags.config));
    const log = (line: string) => io.stderr.write(`${new Date().toISOString()} ${line}\n`);
    const role = (args.flags.role ?? 'student') as Role;
    if (role !== 'student' && role !== 'instructor') throw new UserError(`--role must be student or instructor, not '${String(role)}'`);
    const workerCount = config.workers.local + config.workers.urls.length;

    if (sub === 'invite' || sub === 'roster') {
      privateDir(config.dataDir);
      const store = new AccountStore(join(config.dataDir, 'accounts.json'), workerCount);
      let made;
      if (sub === 'invite') {
        if (typeof args.flags.name !== 'string' || typeof args.flags.email !== 'string') throw new UserError('invite needs --name and --email');
        made = [store.invite(args.flags.name, args.flags.email, role)];
      } else {
        if (rest.length !== 1) throw new UserError('roster takes one CSV file (name,email a line)');
        made = store.importRoster(readFileSync(resolve(io.cwd, rest[0]!), 'utf8'), role);
      }
      for (const { account, token } of made) io.stdout.write(`${account.name} <${account.email}> (${account.role}): ${config.publicUrl}/invite?token=${token}\n`);
      io.stderr.write('(a server running now reads new accounts when it restarts; the dashboard\'s roster import adds them live)\n');
      return 0;
    }

    if (sub === 'worker') {
      const ordinal = /-(\d+)$/.exec(hostname())?.[1];
      const index = Number(args.flags.index ?? ordinal ?? 0);
      if (!Number.isInteger(index) || index < 0) throw new UserError('--index must be a whole number');
      const listen = typeof args.flags.listen === 'string' ? args.flags.listen : 'tcp:0.0.0.0:7070';
      const dataDir = privateDir(typeof args.flags.data === 'string' ? resolve(io.cwd, args.flags.data) : join(config.dataDir, `worker-${index}`));
      // Students' guests are hostile: a worker never runs them unsandboxed, whatever its environment says.
      confinementFor(io.env, { allowUnconfined: false });
      // classroom.yaml host_nat: off: the labs' supervisors start no host NAT (docs/host-nat.md).
      if (config.hostNat === 'off') io.env[HOST_NAT_ENV] = 'off';
      const secret = workerSecret(config, false);
      const core = new WorkerCore({
        name: `worker-${index}`,
        labs: config.labs,
        exams: config.exams,
        variantKey: variantKeyOf(secret),
        dataDir,
        runtimeBase: join(socketBase(config, io.env), `r${index}`),
        env: io.env,
        idleStopMs: config.idleStopMinutes * 60_000,
        startTimeoutMs: config.startTimeoutSec * 1000,
      });
      const server = await serveWorker(core, listen, secret);
      log(`worker ${index} listening on ${server.address} (data in ${dataDir})`);
      await waitForSignal();
      core.close();
      await server.close();
      exitSoon();
      return 0;
    }

    // serve
    privateDir(config.dataDir);
    const secret = workerSecret(config, true);
    const staticDir = ensureRenderer(log);
    // The local workers are supervised (restarted with back-off when one exits); see host.ts.
    const classroom = await startLocalClassroom(config, secret, io.env, log, { staticDir }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') throw new UserError(`port ${config.listen.port} is already in use`, 3, 'choose another listen.port');
      throw err;
    });
    const { server } = classroom;
    const count = classroom.workers.addresses.length + config.workers.urls.length;
    const instructors = server.accounts.list().filter((a) => a.role === 'instructor').length;
    io.stdout.write(`vnetlab classroom "${config.name}" at ${config.publicUrl} (listening on ${config.listen.host}:${server.port}, ${count} worker${count === 1 ? '' : 's'})\n`);
    if (!instructors) io.stdout.write(`no instructor yet: vnetlab classroom invite --config ${args.flags.config} --name NAME --email EMAIL --role instructor\n`);
    await waitForSignal();
    await classroom.close();
    exitSoon();
    return 0;
  },
};

export default command;
