// Hand-in packs from the classroom (docs/snapshots.md): the instructor downloads any student's lab as
// a .vnlpack from the dashboard's API, a student downloads their own from their home page, and nobody
// else's. Worker and front door real, runtime faked (the Backends seam's packLab) as in classroom.test.ts;
// packing a real lab is tested in test/snapshots/packs.test.ts and through the app in test/e2e/states.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, enrol, startTestClass, type TestClass } from './helpers.ts';

const PW = 'correct horse battery';

describe('packs from the classroom', () => {
  let cls: TestClass;
  let teacher: Browser;
  let alice: Browser;
  let bob: Browser;
  const idOf = async (email: string) => ((await (await teacher.fetch('/api/class')).json()) as { students: { id: string; email: string }[] }).students.find((s) => s.email === email)!.id;

  beforeAll(async () => {
    cls = await startTestClass();
    teacher = await enrol(cls, 'Teacher', 'teacher@uni.edu', PW, 'instructor');
    alice = await enrol(cls, 'Alice Liddell', 'alice@uni.edu', PW);
    bob = await enrol(cls, 'Bob', 'bob@uni.edu', PW);
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  it('the instructor downloads any student\'s lab; a student their own, from their home page; nobody else\'s', async () => {
    expect((await alice.fetch('/open/two-hosts')).status).toBe(303);
    const aliceId = await idOf('alice@uni.edu');
    const bobId = await idOf('bob@uni.edu');

    const byTeacher = await teacher.fetch(`/api/students/${aliceId}/labs/two-hosts/pack`);
    expect(byTeacher.status).toBe(200);
    expect(byTeacher.headers.get('content-disposition')).toBe('attachment; filename="alice_uni.edu-two-hosts.vnlpack"');
    expect(byTeacher.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await byTeacher.arrayBuffer()).toString()).toBe('VNLPACK1 fake');

    const home = await (await alice.fetch('/')).text();
    expect(home).toContain('href="/labs/two-hosts/pack"');
    const own = await alice.fetch('/labs/two-hosts/pack');
    expect(own.status).toBe(200);
    expect(own.headers.get('content-disposition')).toBe('attachment; filename="alice_uni.edu-two-hosts.vnlpack"');

    // Another student's: the instructors' API is closed to students.
    expect((await alice.fetch(`/api/students/${bobId}/labs/two-hosts/pack`)).status).toBe(403);
    // Bob has not opened the lab; an unknown lab; an unknown student.
    const notYet = await bob.fetch('/labs/two-hosts/pack');
    expect(notYet.status).toBe(400);
    expect(((await notYet.json()) as { message: string }).message).toContain('has not opened this lab yet');
    expect((await teacher.fetch(`/api/students/${aliceId}/labs/no-such-lab/pack`)).status).toBe(404);
    expect((await teacher.fetch('/api/students/s0000000000/labs/two-hosts/pack')).status).toBe(404);
  }, 60_000);
});
