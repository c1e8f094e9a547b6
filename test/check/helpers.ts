// Shared by the real-UML grading tests: a private HOME, run dir and state dir per test file (so
// parallel runs never share sockets or disks), the project's image cache, and a cleanup that ends
// only the processes recorded in those private run dirs.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostPaths } from '../../src/main/paths.ts';
import { cleanAll } from '../../src/main/runtime/clean.ts';
import { isolatedHost } from '../support/host.ts';

export const REPO = resolve(import.meta.dirname, '../..');

export interface TestHost {
  root: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export function testHost(prefix: string): TestHost {
  const { root, env } = isolatedHost(`vnl-${prefix}`);
  return {
    root,
    env,
    async cleanup() {
      await cleanAll(hostPaths(env));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, cwd = REPO): Promise<CliRun> {
  return new Promise((done) => {
    execFile(process.execPath, [join(REPO, 'bin/vnetlab.mjs'), ...args], { env, cwd, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 70) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** The attributes of every `<tag …>` in an XML text, decoded. Enough to read back the JUnit we write. */
export function xmlElements(xml: string, tag: string): Record<string, string>[] {
  const decode = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return [...xml.matchAll(new RegExp(`<${tag}(\\s[^>]*?)?/?>`, 'g'))].map((m) => Object.fromEntries([...(m[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1]!, decode(a[2]!)])));
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF), parsed back. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}
