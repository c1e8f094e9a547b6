// The renderer bundle is rebuilt by whichever `vnetlab serve` finds it stale first; `npm test` starts
// e2e files in parallel, so builds overlap and servers read app.js while another build writes it.
// Every read must get a whole bundle (a truncated app.js is a page that does nothing).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
const OUT = join(REPO, 'dist', 'renderer');

function build(): Promise<number | null> {
  const child = spawn(process.execPath, [join(REPO, 'src', 'renderer', 'build.mjs')], { cwd: REPO, stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', resolve));
}

describe('renderer bundle builds', () => {
  it('three builds at once: every read of app.js and index.html in the meantime is whole; no build folder is left', async () => {
    await build();
    const builds = Promise.all([build(), build(), build()]);
    let done = false;
    void builds.then(() => (done = true));
    let reads = 0;
    const torn: string[] = [];
    while (!done) {
      const js = readFileSync(join(OUT, 'app.js'), 'utf8');
      if (!/\/\/# sourceMappingURL=app\.js\.map\s*$/.test(js)) torn.push(`app.js of ${js.length} chars`);
      const html = readFileSync(join(OUT, 'index.html'), 'utf8');
      if (!/<\/html>\s*$/.test(html)) torn.push(`index.html of ${html.length} chars`);
      reads++;
      await new Promise((r) => setImmediate(r));
    }
    expect(await builds).toEqual([0, 0, 0]);
    expect(reads).toBeGreaterThan(10);
    expect(torn).toEqual([]);
    expect(existsSync(join(OUT, 'app.css'))).toBe(true);
    expect(readdirSync(join(REPO, 'dist')).filter((n) => n.startsWith('.renderer-build-'))).toEqual([]);
  });
});
