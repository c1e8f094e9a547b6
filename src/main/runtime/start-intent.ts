// Stop wins over start, even before the lab's supervisor answers: a start writes its intent into the
// run dir first (pid and start time), and a stop that finds no supervisor but a live intent leaves a
// stop request, which the start honours before booting anything. Without it a stop 0.3 s after a
// start said "nothing to stop" and the lab then booted fully.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isTrustedFile } from './private-dir.ts';
import { writeRunFile } from './disk-space.ts';
import { isSameProcess, processStartTime } from './records.ts';

const intentFile = (runDir: string) => join(runDir, 'start.intent');
const stopFile = (runDir: string) => join(runDir, 'stop.request');

/** Declare that this process is starting the lab; returns the function that withdraws it. */
export function declareStart(runDir: string): () => void {
  // A request left by a stop of an earlier start is not for this one.
  rmSync(stopFile(runDir), { force: true });
  writeRunFile(intentFile(runDir), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
  return () => {
    if (!ownIntent(runDir)) return;
    rmSync(intentFile(runDir), { force: true });
    rmSync(stopFile(runDir), { force: true });
  };
}

/** Whether a start is under way in another live process. */
export function startInProgress(runDir: string): boolean {
  const intent = readIntent(runDir);
  return !!intent && isSameProcess(intent.pid, intent.startTime);
}

export function requestStop(runDir: string): void {
  writeRunFile(stopFile(runDir), `${process.pid}\n`);
}

/** True (once) when a stop asked this start to give up. */
export function takeStopRequest(runDir: string): boolean {
  if (!existsSync(stopFile(runDir))) return false;
  rmSync(stopFile(runDir), { force: true });
  return true;
}

function ownIntent(runDir: string): boolean {
  return readIntent(runDir)?.pid === process.pid;
}

function readIntent(runDir: string): { pid: number; startTime: string } | undefined {
  const file = intentFile(runDir);
  try {
    if (!isTrustedFile(file)) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as { pid: number; startTime: string };
  } catch {
    return undefined;
  }
}
