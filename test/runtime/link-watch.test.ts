// Link lights' guest output (runtime/link-watch.ts): lines from inside a guest are checked field by field
// and bounded (root in the guest may print anything), and chunks are split into lines however they come.
import { describe, expect, it } from 'vitest';
import { lineSplitter, parseLinkLine } from '../../src/main/runtime/link-watch.ts';

describe('link watch', () => {
  it('parses what the guest script prints', () => {
    expect(parseLinkLine('links eth0=up eth1=down eth2=no-carrier eth0.10=up')).toEqual({ eth0: 'up', eth1: 'down', eth2: 'no-carrier', 'eth0.10': 'up' });
    expect(parseLinkLine('links')).toEqual({});
  });

  it('refuses anything else', () => {
    for (const bad of ['links eth0=sideways', 'links lo=up', 'eth0=up', 'links eth0=up; rm -rf /', `links${' eth0=up'.repeat(2000)}`, 'links __proto__=up']) {
      expect(parseLinkLine(bad), bad.slice(0, 40)).toBeUndefined();
    }
  });

  it('splits chunks into lines', () => {
    const lines: string[] = [];
    const feed = lineSplitter((l) => lines.push(l));
    feed('links eth0=u');
    feed('p\nlinks eth0=down\nlinks');
    feed(' eth0=up\n');
    expect(lines).toEqual(['links eth0=up', 'links eth0=down', 'links eth0=up']);
  });
});
