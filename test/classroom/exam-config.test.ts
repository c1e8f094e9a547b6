// classroom.yaml `exams:` (docs/exams.md): what is accepted, and a clear error naming the key for
// everything that is not — never a stack trace.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseClassroomConfig } from '../../src/main/classroom/config.ts';
import { REPO } from './helpers.ts';

const lab = join(REPO, 'labs', 'two-hosts');
const parse = (exams: string) => parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: ospf-exam, path: ${lab}}, {id: two-hosts, path: ${lab}}]\nexams:\n${exams}`, '/srv/classroom.yaml');
const one = (fields: string) => parse(`  - {${fields}}`);
const OK = 'id: midterm, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 90';

describe('classroom.yaml exams', () => {
  it('reads an exam as the issue writes it', () => {
    const [e] = one(`${OK}, check_my_work: limited:3, internet: off, title: Midterm`).exams;
    expect(e).toEqual({ id: 'midterm', lab: 'ospf-exam', title: 'Midterm', opens: Date.parse('2027-01-20T09:00:00Z'), closes: Date.parse('2027-01-20T11:00:00Z'), durationMs: 90 * 60_000, checkMyWork: { mode: 'limited', count: 3 }, internet: false });
  });

  it('defaults: check my work as usual, no internet; zones and fractions of minutes', () => {
    const [e] = one('id: quiz, lab: two-hosts, opens: "2027-01-20T10:00:30+01:00", closes: 2027-01-20T12:00+01:00, duration_minutes: 0.5').exams;
    expect(e!.checkMyWork).toEqual({ mode: 'visible' });
    expect(e!.internet).toBe(false);
    expect(e!.opens).toBe(Date.parse('2027-01-20T09:00:30Z'));
    expect(e!.durationMs).toBe(30_000);
    expect(one(`${OK}, check_my_work: off, internet: on`).exams[0]).toMatchObject({ checkMyWork: { mode: 'off' }, internet: true });
    expect(parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: a, path: ${lab}}]`, '/srv/c.yaml').exams).toEqual([]);
  });

  it.each([
    ['exams: 3', /exams: must be a list of exams/],
    ['exams:\n  - midterm', /exams\[0\]: must be a mapping/],
    ['exams:\n  - {id: midterm, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z}', /exams\[0\]\.duration_minutes: is required/],
    ['exams:\n  - {id: Midterm!, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9}', /exams\[0\]\.id: must be lowercase/],
    ['exams:\n  - {id: two-hosts, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9}', /exams\[0\]\.id: two-hosts is also a lab id/],
    ['exams:\n  - {id: m, lab: nope, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9}', /exams\[0\]\.lab: must be the id of a lab in labs:.*\n?.*|labs: ospf-exam, two-hosts/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20 09:00, closes: 2027-01-20T11:00Z, duration_minutes: 9}', /exams\[0\]\.opens: must be a date and time with its zone, like 2027-01-20T09:00Z/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-13-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9}', /exams\[0\]\.opens: .*not a real date|must be a date/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T11:00Z, closes: 2027-01-20T09:00Z, duration_minutes: 9}', /exams\[0\]\.closes: must be after opens/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 0}', /exams\[0\]\.duration_minutes: must be a number of minutes above 0/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: "90"}', /duration_minutes: must be a number/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9, check_my_work: limited:0}', /exams\[0\]\.check_my_work: must be off, visible or limited:N/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9, check_my_work: sometimes}', /check_my_work: must be off, visible or limited:N/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9, internet: maybe}', /exams\[0\]\.internet: must be off or on/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9, proctor: yes}', /exams\[0\]\.proctor: unknown key/],
    ['exams:\n  - {id: m, lab: ospf-exam, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9}\n  - {id: m, lab: two-hosts, opens: 2027-01-20T09:00Z, closes: 2027-01-20T11:00Z, duration_minutes: 9}', /exams\[1\]\.id: m is listed twice/],
  ])('refuses %s with the key and what to write', (text, error) => {
    let message = '';
    try {
      parseClassroomConfig(`data_dir: /tmp/x\nlabs: [{id: ospf-exam, path: ${lab}}, {id: two-hosts, path: ${lab}}]\n${text}`, '/srv/classroom.yaml');
    } catch (err) {
      message = (err as Error).message;
      expect((err as Error).stack).toBeTruthy();
      expect(message).not.toMatch(/\n\s+at /);
    }
    expect(message).toMatch(/^\/srv\/classroom\.yaml: /);
    expect(message).toMatch(error);
  });
});
