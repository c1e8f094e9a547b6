// `vnetlab connect [LAB] <machine>`: the machine's console in this terminal. Several viewers may be
// attached at once; recent output is replayed on attach; Ctrl-] detaches and leaves the guest running.
// `--console N` opens the machine's Nth console (2 to 8: a shell of its own, runtime/extra-console.ts),
// the same one the app shows in its tab `MACHINE (N)`.
import { UserError } from '../../errors.ts';
import { LAB_FLAG, machinesOnly, resolveLab } from '../lab-args.ts';
import { labFolder, requireSupervisor } from '../../runtime/lab-target.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

const DETACH_KEY = '\x1d'; // Ctrl-]

const command: Command = {
  name: 'connect',
  summary: "open a machine's console in this terminal (detach with Ctrl-])",
  usage: 'connect [LAB] MACHINE [--console N]',
  flags: { lab: LAB_FLAG, console: { type: 'string', description: "which of the machine's consoles: 1 (default) is its own, 2 to 8 are shells of their own", valueName: 'N' } },
  async run(args, io) {
    const { labPath, rest } = resolveLab(args.positionals, args.flags.lab, io.cwd, io.env);
    const machine = machinesOnly(rest, io.cwd)[0];
    if (!machine) throw new UserError('which machine? usage: vnetlab connect [LAB] MACHINE [--console N]');
    const asked = args.flags.console === undefined ? '1' : String(args.flags.console);
    if (!/^[1-8]$/.test(asked)) throw new UserError(`--console ${asked}: a machine has consoles 1 to 8`, 2, `vnetlab connect ${machine} --console 2 opens its second console`);
    const index = Number(asked) - 1;
    const sup = await requireSupervisor(labPath, io.env);
    // Attaching to a machine that is not running would replay old output and look like a console.
    const found = await sup.status().then((s) => s.machines.find((m) => m.name === machine), (err: unknown) => {
      sup.close();
      throw err;
    });
    if (!found || !['booting', 'ready'].includes(found.state)) {
      sup.close();
      const start = `vnetlab start${args.flags.lab || labPath !== io.cwd ? ` ${labFolder(labPath)}` : ''} ${machine}`;
      if (!found) throw new UserError(`no machine named ${machine} in this lab`, 2, 'vnetlab status lists its machines');
      throw new UserError(`${machine} is ${found.state}; start it: ${start}`, 1);
    }
    const stdin = io.stdin as NodeJS.ReadStream;
    const stdout = io.stdout as NodeJS.WriteStream;
    const tty = !!stdin.isTTY && typeof stdin.setRawMode === 'function';
    return new Promise<number>((resolve, reject) => {
      let finished = false;
      const finish = (code: number, message?: string) => {
        if (finished) return;
        finished = true;
        if (tty) stdin.setRawMode(false);
        stdin.pause();
        stdin.off('data', onInput);
        stdout.off?.('resize', onResize);
        if (message) io.stderr.write(`\r\n${message}\r\n`);
        sup.close();
        resolve(code);
      };
      let attachment: Awaited<ReturnType<typeof sup.attachConsole>> | undefined;
      const onInput = (chunk: Buffer | string) => {
        const text = chunk.toString();
        const cut = text.indexOf(DETACH_KEY);
        if (cut >= 0) {
          if (cut > 0) attachment?.write(text.slice(0, cut));
          attachment?.detach();
          finish(EXIT.ok, `[detached from ${machine}; it keeps running]`);
          return;
        }
        attachment?.write(text);
      };
      const onResize = () => attachment?.resize(stdout.columns ?? 80, stdout.rows ?? 24);
      io.stderr.write(`[connecting to ${machine}${index ? ` (console ${index + 1})` : ''}; press Ctrl-] to detach]\r\n`);
      sup
        .attachConsole(machine, {
          console: index,
          onData: (d) => stdout.write(d),
          onClose: () => finish(EXIT.ok, `[the lab stopped]`),
          cols: stdout.isTTY ? stdout.columns : undefined,
          rows: stdout.isTTY ? stdout.rows : undefined,
        })
        .then((a) => {
          attachment = a;
          if (tty) stdin.setRawMode(true);
          stdin.on('data', onInput);
          stdin.on('end', () => finish(EXIT.ok));
          stdin.resume();
          if (stdout.isTTY) stdout.on('resize', onResize);
        })
        .catch((err: unknown) => {
          sup.close();
          reject(err);
        });
    });
  },
};

export default command;
