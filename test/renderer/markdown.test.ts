// Lab descriptions are Markdown from whoever wrote the lab: the renderer's sanitiser (marked +
// DOMPurify) runs here in Debian's Chromium — DOMPurify needs a real DOM — on the bundle esbuild makes
// of src/renderer/markdown.ts, and must keep the formatting while removing every way to run script.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../e2e/helpers.ts';

const repo = resolve(__dirname, '..', '..');
let dir: string;
let browser: BrowserContext;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vnl-markdown-'));
  const bundle = await build({
    stdin: { contents: "import { renderMarkdown } from './markdown.ts'; (window as any).renderMarkdown = renderMarkdown;", resolveDir: join(repo, 'src', 'renderer'), loader: 'ts' },
    bundle: true, format: 'iife', write: false, platform: 'browser',
  });
  browser = await launchBrowser(dir);
  page = await browser.newPage();
  await page.setContent('<!doctype html><div id="out"></div>');
  await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
});

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Renders in the page, inserts the result into the DOM (as the lab panel does) and reports what ran. */
async function render(markdown: string): Promise<{ html: string; ran: unknown }> {
  return page.evaluate(async (md) => {
    const w = window as any;
    w.__ran = undefined;
    const html = w.renderMarkdown(md);
    document.getElementById('out')!.innerHTML = html;
    await new Promise((r) => setTimeout(r, 100)); // let onerror/onload handlers fire if any survived
    return { html, ran: w.__ran };
  }, markdown);
}

describe('lab description sanitising', () => {
  it('keeps headings, tables, code, lists and links', async () => {
    const { html } = await render('# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- `ip a`\n- [docs](https://example.org)\n\n```\nping -c 1 10.0.0.2\n```');
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toMatch(/<table>[\s\S]*<td>1<\/td>/);
    expect(html).toContain('<code>ip a</code>');
    expect(html).toContain('<pre><code>ping -c 1 10.0.0.2');
    expect(html).toMatch(/<a href="https:\/\/example.org" target="_blank" rel="noopener noreferrer">docs<\/a>/);
  });

  const attacks: [string, string][] = [
    ['script tag', '<script>window.__ran = "script"</script>'],
    ['img onerror', '<img src=x onerror="window.__ran = \'img\'">'],
    ['svg onload', '<svg onload="window.__ran = \'svg\'"><circle r=1></svg>'],
    ['javascript: link', '[x](javascript:window.__ran=1)'],
    ['javascript: autolink in html', '<a href="JaVaScRiPt:window.__ran=1">x</a>'],
    ['iframe srcdoc', '<iframe srcdoc="<script>parent.__ran=1</script>"></iframe>'],
    ['object data', '<object data="data:text/html,<script>parent.__ran=1</script>"></object>'],
    ['form action', '<form action="javascript:window.__ran=1"><button>go</button></form>'],
    ['style tag', '<style>body{background:url(javascript:window.__ran=1)}</style>'],
    ['details ontoggle', '<details open ontoggle="window.__ran=\'toggle\'"><summary>s</summary></details>'],
    ['meta refresh', '<meta http-equiv="refresh" content="0;url=javascript:window.__ran=1">'],
    ['math/mglyph mXSS', '<math><mtext><table><mglyph><style><img src=x onerror="window.__ran=\'mxss\'">'],
  ];
  for (const [name, payload] of attacks) {
    it(`removes ${name}`, async () => {
      const { html, ran } = await render(`# Lab\n\n${payload}\n\ntext after`);
      expect(ran).toBeUndefined();
      expect(html).not.toMatch(/<script|<iframe|<object|<form|<style|<meta|\son\w+=|javascript:/i);
      expect(html).toContain('<h1>Lab</h1>');
    });
  }
});
