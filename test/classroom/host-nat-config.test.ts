// classroom.yaml `host_nat:` — what host-NAT domains give students' guests (docs/classroom.md).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';

const LAB = join(import.meta.dirname, '..', '..', 'labs', 'two-hosts');
const BASE = `name: C\ndata_dir: /srv/v\nlisten: {host: 127.0.0.1, port: 0}\nlabs: [{id: a, path: ${LAB}}]\n`;

describe('classroom host_nat', () => {
  it('defaults to internet (never the host itself) and takes off', () => {
    expect(parseClassroomConfig(BASE, '/c.yaml').hostNat).toBe('internet');
    expect(parseClassroomConfig(`${BASE}host_nat: off\n`, '/c.yaml').hostNat).toBe('off');
    expect(parseClassroomConfig(`${BASE}host_nat: internet\n`, '/c.yaml').hostNat).toBe('internet');
  });
  it('refuses anything else, saying what it takes', () => {
    expect(() => parseClassroomConfig(`${BASE}host_nat: host\n`, '/c.yaml')).toThrow(/host_nat: must be 'internet' or 'off'/);
  });
});
