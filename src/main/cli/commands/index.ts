// Every `vnetlab` subcommand, in the order `vnetlab --help` lists them.
// Each module default-exports a Command; loading is lazy so `vnetlab validate` does not load node-pty.
import type { Command } from '../command.ts';

export const COMMANDS: Record<string, () => Promise<{ default: Command }>> = {
  validate: () => import('./validate.ts'),
  convert: () => import('./convert.ts'),
  variant: () => import('./variant.ts'),
  compile: () => import('./compile.ts'),
  image: () => import('./image.ts'),
  start: () => import('./start.ts'),
  status: () => import('./status.ts'),
  connect: () => import('./connect.ts'),
  exec: () => import('./exec.ts'),
  link: () => import('./link.ts'),
  capture: () => import('./capture.ts'),
  apply: () => import('./apply.ts'),
  stop: () => import('./stop.ts'),
  crash: () => import('./crash.ts'),
  restart: () => import('./restart.ts'),
  wipe: () => import('./wipe.ts'),
  snapshot: () => import('./snapshot.ts'),
  pack: () => import('./pack.ts'),
  unpack: () => import('./unpack.ts'),
  clean: () => import('./clean.ts'),
  pool: () => import('./pool.ts'),
  list: () => import('./list.ts'),
  check: () => import('./check.ts'),
  serve: () => import('./serve.ts'),
  app: () => import('./app.ts'),
  classroom: () => import('./classroom.ts'),
};
