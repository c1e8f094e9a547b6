// Issue 18, on a real guest: root inside a guest writes what it likes on the exec channel (/dev/ttyS0,
// docs/ARCHITECTURE.md "Exec channel protocol"). A line with a bogus field (`A -2000000000` once stopped
// the host from ever sending again), a forged id, bad base64, an endless line: each is dropped and
// logged in the supervisor's log, and execs go on working — from a startup script before the guest is
// ready, and from a background job while another exec runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPaths } from '../../src/main/paths.ts';
import { findRunDir } from '../../src/main/runtime/run-dir.ts';
import { eventually, testEnv, type TestEnv } from './helpers.ts';

/** Lines a hostile guest writes on its channel: `printf` arguments (the leading \n ends any line in flight). */
const HOSTILE = String.raw`\nA -2000000000\nR -5\nD 77 0\nO 1 @@@@\nA 1e9\n`;

const LAB_YAML = `lab:
  name: hostile
machines:
  pc1:
    image: tiny
    memory: 64
    startup: |
      printf '${HOSTILE}' > /dev/ttyS0
      head -c 20000 /dev/zero | tr '\\0' 'O' > /dev/ttyS0
      printf '\\nB\\n' > /dev/ttyS0
`;

describe('a guest writing junk on its exec channel (real UML)', () => {
  let t: TestEnv;
  let lab: string;
  let log: () => string;

  beforeAll(async () => {
    t = testEnv();
    lab = t.lab('hostile', { 'lab.yaml': LAB_YAML });
    const started = await t.cli(['start', lab]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const runDir = findRunDir(lab, hostPaths(t.env))!;
    log = () => readFileSync(join(runDir, 'supervisor.log'), 'utf8');
  });

  afterAll(async () => {
    await t?.dispose();
  });

  it('drops and logs what a startup script wrote, and later execs still return', async () => {
    const r = await t.cli(['exec', '-l', lab, 'pc1', '--timeout', '10', '--', 'echo still-here; exit 3']);
    expect(r).toMatchObject({ code: 3, stdout: 'still-here\n' });
    const text = log();
    expect(text).toContain(`dropped a malformed line from the guest ('-2000000000' is not a byte count`);
    expect(text).toContain(`('-5' is not an exit code (0-255)): "R -5"`);
    expect(text).toContain('(command id 77 was never issued): "D 77 0"');
    expect(text).toContain('(command id 1 was never issued): "O 1 @@@@"'); // no exec yet
    expect(text).toContain('(longer than 8192 characters): "OOOO');
  });

  it('drops what a background job writes while another exec runs; that exec and the next are unharmed', async () => {
    const bg = await t.cli(['exec', '-l', lab, 'pc1', '--timeout', '10', '--', `(sleep 1; printf '${HOSTILE}D 1 -2000000000\\n' > /dev/ttyS0) >/dev/null 2>&1 &`]);
    expect(bg.code).toBe(0);
    const during = await t.cli(['exec', '-l', lab, 'pc1', '--timeout', '10', '--', 'sleep 3; echo during']);
    expect(during).toMatchObject({ code: 0, stdout: 'during\n' });
    const text = await eventually(() => log(), (t) => t.includes(`'-2000000000' is not an exit code`));
    expect(text).toContain('(the payload is not well-formed base64): "O 1 @@@@"'); // id 1 is issued by now
    for (let i = 0; i < 3; i++) {
      const after = await t.cli(['exec', '-l', lab, 'pc1', '--timeout', '10', '--', `echo after-${i}; cat /proc/version >/dev/null`]);
      expect(after).toMatchObject({ code: 0, stdout: `after-${i}\n` });
    }
  });
});
