// Issue 19, part 1's classroom bullet: each student's copy of a class lab with params: is their own
// variant, rendered on the worker with seed = HMAC(server key, student id, lab id); the copy holds no
// seed, no params, no hidden check and no solution; the instructor's dashboard shows each student's
// values; "Check my work" and the instructor's grade use the checks of that student's variant. Front
// door and worker over the real protocol; the runtime behind them is the Backends seam (the exam test,
// test/classroom/exam.test.ts, does the same on real guests).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Check, CheckReport } from '../../src/shared/checks.ts';
import { seedFor, variantValues } from '../../src/main/lab/variants.ts';
import { variantKeyOf } from '../../src/main/classroom/worker.ts';
import { enrol, REPO, startTestClass, type Browser, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';
const VARIANT_LAB = join(REPO, 'labs', 'static-routing-variant');

describe('class labs with params: one variant per student', () => {
  let cls: TestClass;
  let teacher: Browser;
  let alice: Browser;
  let bob: Browser;
  const graded: { root: string; checks: Check[] }[] = [];

  beforeAll(async () => {
    cls = await startTestClass([`  - {id: routing, path: ${VARIANT_LAB}, title: Static routing (yours)}`]);
    // The worker's key, as `classroom worker` derives it from the workers' secret.
    cls.core.options.variantKey = variantKeyOf('x'.repeat(40));
    const grade = cls.runtime.grader;
    cls.core.options.grader = async (root, checks, env) => {
      graded.push({ root, checks });
      return grade(root, checks, env);
    };
    teacher = await enrol(cls, 'Teacher', 'teacher@uni.edu', PW, 'instructor');
    alice = await enrol(cls, 'Alice', 'alice@uni.edu', PW);
    bob = await enrol(cls, 'Bob', 'bob@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  const copyOf = async (b: Browser) => decodeURIComponent(/lab=([^&]+)/.exec((await b.fetch('/open/routing')).headers.get('location')!)![1]!);
  const idOf = (email: string) => cls.server.accounts.list().find((a) => a.email === email)!.id;

  it('renders each student\'s own variant, with nothing of the grading data in it', async () => {
    const [a, b] = [await copyOf(alice), await copyOf(bob)];
    const [ya, yb] = [readFileSync(join(a, 'lab.yaml'), 'utf8'), readFileSync(join(b, 'lab.yaml'), 'utf8')];
    // The values of each one's seed, HMAC(key, student, lab): what the worker rendered.
    const va = await variantValues(VARIANT_LAB, seedFor(variantKeyOf('x'.repeat(40)), idOf('alice@uni.edu'), 'routing'));
    const vb = await variantValues(VARIANT_LAB, seedFor(variantKeyOf('x'.repeat(40)), idOf('bob@uni.edu'), 'routing'));
    expect(va.lan1).not.toBe(vb.lan1);
    expect(ya).toContain(`(${va.lan1})`);
    expect(yb).toContain(`(${vb.lan1})`);
    expect(ya).not.toContain(vb.lan1!);
    for (const y of [ya, yb]) expect(y).not.toMatch(/params:|solution:|\{\{/);
    for (const d of [a, b]) {
      expect(existsSync(join(d, '.vnetlab-seed'))).toBe(false);
      expect(existsSync(join(d, 'solution'))).toBe(false);
    }
  });

  it('shows the instructor each student\'s values', async () => {
    const c = (await (await teacher.fetch('/api/class')).json()) as { students: { email: string; values: Record<string, Record<string, string>> }[] };
    const a = c.students.find((s) => s.email === 'alice@uni.edu')!.values.routing!;
    const b = c.students.find((s) => s.email === 'bob@uni.edu')!.values.routing!;
    expect(Object.keys(a).sort()).toEqual(['lan1', 'lan2', 'pc', 'transit']);
    expect(a).toEqual(await variantValues(VARIANT_LAB, seedFor(variantKeyOf('x'.repeat(40)), idOf('alice@uni.edu'), 'routing')));
    expect(b.lan1).not.toBe(a.lan1);
  });

  it('grades each student against the checks of their own variant, Check my work and the instructor\'s grade alike', async () => {
    const lab = await copyOf(alice);
    const rpc = await alice.rpc();
    await rpc.call('startLab', lab);
    graded.length = 0;
    await rpc.call<CheckReport>('runChecks', lab);
    const mine = JSON.stringify(graded[0]!.checks);
    const va = (await (await teacher.fetch('/api/class')).json()) as { students: { email: string; values: Record<string, Record<string, string>> }[] };
    const alicesLan2 = va.students.find((s) => s.email === 'alice@uni.edu')!.values.routing!.lan2!;
    const bobsLan2 = va.students.find((s) => s.email === 'bob@uni.edu')!.values.routing!.lan2!;
    expect(mine).toContain(alicesLan2.split('/')[0]!.replace(/\.0$/, '.'));
    expect(mine).not.toContain(bobsLan2);
    expect(graded[0]!.checks.every((c) => !c.hidden)).toBe(true);
    const res = await teacher.api(`/api/students/${idOf('alice@uni.edu')}/labs/routing/grade`);
    expect(res.status).toBe(200);
    expect(JSON.stringify(graded[1]!.checks)).toContain(alicesLan2.split('/')[0]!.replace(/\.0$/, '.'));
    await rpc.call('stopLab', lab);
    rpc.close();
  });
});
