// `vnetlab serve [LAB] [--port N] [--no-open]`: the app in a browser. Binds 127.0.0.1 only and prints
// a link whose one-time token gets one browser its session cookie; without the cookie the server
// answers 401. Each time a link is used, a fresh one is printed for another browser.
import { resolve } from 'node:path';
import { startAppServer } from '../../server/app-host.ts';
import type { Command } from '../command.ts';
import { UserError } from '../exit-codes.ts';
import { allowedDirs, exitSoon, openBrowser, poolSize, waitForSignal } from './app.ts';

const command: Command = {
  name: 'serve',
  summary: 'serve the app to a browser on this machine (127.0.0.1, with a one-time link)',
  usage: 'serve [LAB] [--port N] [--allow DIR]... [--pool N] [--no-open]',
  description: `
Starts the app's server and prints a link to open. The link works once: the browser that opens it
gets a session cookie (HttpOnly, only for this server) and the link is dead from then on, so only you
can use the app, and only from this machine. Each time a link is used a fresh one is printed, for
another browser. With --port N the session's secret is kept (in a file only you can read), so a page
left open reconnects after a restart. Labs keep running when the server or the browser is closed;
open the app again to get back to them.

The open/save dialogs may use your home folder, the shipped labs and the folder of LAB; --allow adds
another folder (repeat it for more), e.g. a course folder outside your home.

Examples:
  vnetlab serve                     the default lab (labs/two-hosts)
  vnetlab serve ~/course/lab3 --port 8080 --no-open
  vnetlab serve --allow /srv/course --allow /tmp/labs`,
  flags: {
    port: { type: 'string', description: 'port to listen on (default: a free one)', valueName: 'N' },
    allow: { type: 'list', description: 'another folder the open/save dialogs may use (repeatable)', valueName: 'DIR' },
    'no-open': { type: 'boolean', description: 'do not open a browser window' },
    pool: { type: 'string', description: 'booted guests to keep for the open lab, so Start is ready in about a second (default 0)', valueName: 'N' },
  },
  async run(args, io) {
    if (args.positionals.length > 1) throw new UserError(`serve takes one lab, not ${args.positionals.length}`, 2, 'usage: vnetlab serve [LAB] [--port N]');
    const port = args.flags.port === undefined ? 0 : Number(args.flags.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be a port number (0-65535), not '${String(args.flags.port)}'`);
    const lab = args.positionals[0] ? resolve(io.cwd, args.positionals[0]) : undefined;
    const allow = allowedDirs(args.flags.allow, io.cwd);
    const onLinkUsed = () => io.stdout.write(`(that link is used up; another browser can open: ${server.newLink()})\n`);
    const server = await startAppServer({ lab, port, allow, env: io.env, log: (l) => io.stderr.write(`${l}\n`), pool: poolSize(args.flags.pool, 0), onLinkUsed }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') throw new UserError(`port ${port} is already in use`, 3, 'choose another with --port, or omit it to get a free one');
      throw err;
    });
    io.stdout.write(`vnetlab is serving the app at:\n  ${server.url}\n(Ctrl-C stops the server; running labs keep running)\n`);
    io.stdout.write(`folders the app may open and save in: ${server.service.roots().join(', ')}\n`);
    if (args.flags['no-open'] !== true) openBrowser(server.url, io.env, (l) => io.stderr.write(`${l}\n`));
    await waitForSignal();
    await server.close();
    exitSoon();
    return 0;
  },
};

export default command;
