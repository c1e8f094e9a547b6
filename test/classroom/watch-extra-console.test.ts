// A machine's extra console (issue 23) is a shell that its first viewer starts in the guest: an
// instructor watching a student (a read-only session) attaches to the machine's own console only and
// starts nothing; the student opens extra consoles as usual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrol, startTestClass, type TestClass } from './helpers.ts';

describe('watching and extra consoles', () => {
  let cls: TestClass;
  let id: string;

  beforeAll(async () => {
    cls = await startTestClass();
    await enrol(cls, 'Ada', 'ada@uni.edu', 'correct horse battery');
    id = cls.server.accounts.list().find((a) => a.email === 'ada@uni.edu')!.id;
  }, 60_000);
  afterAll(async () => {
    await cls?.close();
  });

  it("a watcher may not open a machine's extra console; the student passes the index on", async () => {
    const worker = cls.core.student(id);
    const client = worker.service.connect(() => {});
    try {
      const lab = '/nonexistent-lab';
      expect(await cls.core.call(id, client, true, 'attachConsole', [lab, 'pc1', 1])).toEqual({ error: { code: 'unauthorized', message: "watching shows a machine's own console, not its extra ones" } });
      // The machine's own console is not refused for that reason (here it fails further on: no such lab).
      const own = await cls.core.call(id, client, true, 'attachConsole', [lab, 'pc1']);
      expect(JSON.stringify(own)).not.toMatch(/extra ones/);
      const student = await cls.core.call(id, client, false, 'attachConsole', [lab, 'pc1', 1]);
      expect(JSON.stringify(student)).not.toMatch(/extra ones/);
    } finally {
      client.close();
    }
  });
});
