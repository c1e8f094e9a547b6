// The Electron shell cannot run here (no Electron binary), so what can be proved without it is:
// the packaging config is valid for electron-builder, and the sandboxed preload bundles to one
// CommonJS file that requires nothing but 'electron' and exposes only the service bridge.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const repo = join(__dirname, '..', '..');

describe('electron shell', () => {
  it('electron-builder.yml is valid and the .deb depends on UML, VDE and the UML utilities', () => {
    const schema = JSON.parse(readFileSync(join(repo, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8'));
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    const config = parse(readFileSync(join(repo, 'electron-builder.yml'), 'utf8'));
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.deb.depends).toEqual(expect.arrayContaining(['user-mode-linux', 'vde2', 'uml-utilities']));
    expect(config.extraMetadata.main).toBe(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).main);
  });

  it('the preload bundles to CommonJS that requires only electron and exposes one bridge', () => {
    execFileSync(process.execPath, [join(repo, 'src', 'main', 'electron', 'build.mjs')], { cwd: repo });
    const bundle = readFileSync(join(repo, 'dist', 'electron', 'preload.cjs'), 'utf8');
    const requires = [...bundle.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect([...new Set(requires)]).toEqual(['electron']);
    expect(bundle).not.toMatch(/^\s*(import|export)\s/m);
    expect([...bundle.matchAll(/exposeInMainWorld\(\s*"([^"]+)"/g)].map((m) => m[1])).toEqual(['vnetlab']);
  });

  it('the main process keeps the page sandboxed', () => {
    const main = readFileSync(join(repo, 'src', 'main', 'electron', 'main.ts'), 'utf8');
    expect(main).toMatch(/nodeIntegration: false/);
    expect(main).toMatch(/contextIsolation: true/);
    expect(main).toMatch(/sandbox: true/);
  });
});
