// The delay-loop figure guests boot with (`lpj=`, src/main/images/delay-loop.ts): measured once per kernel and
// CPU by a disk-less boot of the real kernel, cached beside the images, and given to the compiler, so no guest
// spends ~90 ms of CPU calibrating it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedBootArgs } from '../../src/main/compiler/index.ts';
import { loopsPerJiffy, lpjFromBootLog } from '../../src/main/images/delay-loop.ts';
import { findKernel } from '../../src/main/images/kernel.ts';
import { bootKernel } from '../../src/main/runtime/compile-options.ts';
import { processesMentioning } from '../runtime/helpers.ts';

const imageDir = mkdtempSync(join(tmpdir(), 'vlpj-'));
afterAll(() => rmSync(imageDir, { recursive: true, force: true }));

let kernel: ReturnType<typeof findKernel> | undefined;
try {
  kernel = findKernel();
} catch {
  kernel = undefined;
}

describe('the delay-loop figure', () => {
  it('is read from the kernel\'s own line, calibrated or preset', () => {
    expect(lpjFromBootLog('x\nCalibrating delay loop... 7105.74 BogoMIPS (lpj=35528704)\ny')).toBe(35528704);
    expect(lpjFromBootLog('Calibrating delay loop (skipped) preset value.. 7220.42 BogoMIPS (lpj=36102144)')).toBe(36102144);
    expect(lpjFromBootLog('Kernel panic - not syncing: no memory')).toBeUndefined();
  });

  // user-mode-linux is what every guest needs (.ci/run installs it); without it there is no kernel to measure.
  it.skipIf(!kernel)('is measured once by a boot of the real kernel, cached per kernel and CPU, and nothing of that boot is left', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, VNETLAB_IMAGE_DIR: imageDir };
    delete env.VNETLAB_UML_LPJ;
    const lpj = loopsPerJiffy(kernel!, env);
    expect(lpj).toBeGreaterThan(100_000); // any CPU that runs UML loops far more often than this per 10 ms jiffy
    const cached = readdirSync(join(imageDir, 'host')).filter((f) => /^lpj-[0-9a-f]{12}\.txt$/.test(f));
    expect(cached).toHaveLength(1);
    expect(Number(readFileSync(join(imageDir, 'host', cached[0]!), 'utf8'))).toBe(lpj);
    expect(processesMentioning(`umid=lpj-${process.pid}`)).toEqual([]);
    // The compiler's options carry it, and every guest boots with it.
    const options = bootKernel(env);
    expect(options.loopsPerJiffy).toBe(lpj);
    expect(sharedBootArgs({ ipv6: true }, options.loopsPerJiffy)).toContain(`lpj=${lpj}`);
  }, 60_000);

  it('VNETLAB_UML_LPJ=0 turns it off; a number forces it', () => {
    const k = { path: '/nonexistent/linux.uml', binary: '/nonexistent/linux.uml' };
    expect(loopsPerJiffy(k, { VNETLAB_UML_LPJ: '0' })).toBeUndefined();
    expect(loopsPerJiffy(k, { VNETLAB_UML_LPJ: '4000000' })).toBe(4_000_000);
    expect(sharedBootArgs({ ipv6: true })).not.toContainEqual(expect.stringMatching(/^lpj=/));
  });
});
