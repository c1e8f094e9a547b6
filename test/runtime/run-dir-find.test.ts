// Which run dir a lab folder means when it has several: its lab was renamed (the lab id holds the
// name) after a run that was killed, so a stale run dir sits beside the running one. `vnetlab stop`
// and `status` once picked the stale one and said the running lab was not running.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRunDir, runFiles } from '../../src/main/runtime/run-dir.ts';
import { processStartTime } from '../../src/main/runtime/records.ts';

const base = mkdtempSync(join(tmpdir(), 'vrunfind-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

function runDirFor(root: string, labRoot: string, name: string): string {
  const hash = createHash('sha256').update(labRoot).digest('hex').slice(0, 8);
  const dir = join(root, `${name}-${hash}`);
  mkdirSync(dir, { mode: 0o700, recursive: true });
  writeFileSync(runFiles.plan(dir), JSON.stringify({ lab: { root: labRoot } }), { mode: 0o600 });
  return dir;
}

/** A runtime root of its own and a lab folder with two run dirs, 'aaa' (sorting first) and 'zzz'. */
function twoRunDirs(name: string) {
  const root = join(base, `root-${name}`);
  mkdirSync(root, { mode: 0o700 });
  const lab = join(base, `lab-${name}`);
  const first = runDirFor(root, lab, 'aaa');
  const second = runDirFor(root, lab, 'zzz');
  const find = () => findRunDir(lab, { runtimeRoot: root, imageDir: base, stateRoot: base });
  return { first, second, find };
}

describe('findRunDir with several run dirs for one lab folder', () => {
  it('takes the one whose supervisor runs, whatever the names sort to', () => {
    const { first: stale, second: running, find } = twoRunDirs('running');
    writeFileSync(runFiles.lock(running), JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid) }));
    // A lock whose holder is gone does not count.
    writeFileSync(runFiles.lock(stale), JSON.stringify({ pid: process.pid, startTime: 'not-this-process' }));
    expect(find()).toBe(running);
  });

  it('with none running, takes the one whose plan was written last', () => {
    const { first: older, second: newer, find } = twoRunDirs('written');
    utimesSync(runFiles.plan(older), new Date(1_000_000), new Date(1_000_000));
    expect(find()).toBe(newer);
  });
});
