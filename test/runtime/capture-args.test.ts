// `vnetlab capture` on bad flag values, without booting anything: each flag's error names its own unit
// (issue 18: --max-size said "seconds", a copy of --duration's message).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, TWO_HOSTS_YAML, type TestEnv } from './helpers.ts';

describe('capture flag values', () => {
  let t: TestEnv;
  let lab: string;
  beforeAll(() => {
    t = testEnv();
    lab = t.lab('cap', { 'lab.yaml': TWO_HOSTS_YAML });
  });
  afterAll(async () => {
    await t?.dispose();
  });

  it('--max-size errors speak of megabytes, not seconds (exit 2)', async () => {
    for (const bad of ['lots', '0', '-5', '']) {
      const r = await t.cli(['capture', '-l', lab, 'pc1:eth0', '--max-size', bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--max-size must be a positive number of megabytes (MB), not '${bad}'`);
      expect(r.stderr).not.toMatch(/seconds/);
    }
  });

  it('--duration errors still speak of seconds', async () => {
    const r = await t.cli(['capture', '-l', lab, 'pc1:eth0', '--duration', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--duration must be a positive number of seconds, not 'soon'");
  });
});
