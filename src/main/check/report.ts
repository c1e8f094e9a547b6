// Check reports in the three shapes graders use: text for people, JSON (the CheckReport as is) for
// scripts, JUnit XML for CI dashboards and LMS importers; plus the CSV summary of a batch.
import type { CheckReport, CheckResult } from '../../shared/checks.ts';

export function formatResultLine(result: CheckResult): string {
  const mark = result.passed ? '✔' : '✘';
  const lines = [`${mark} ${result.id}: ${result.description} (${result.earned}/${result.points})`];
  if (!result.passed) {
    if (result.reason) lines.push(`    ${result.reason}`);
    if (result.hint) lines.push(`    hint: ${result.hint}`);
  }
  return lines.join('\n');
}

export function formatScore(report: CheckReport): string {
  const passed = report.results.filter((r) => r.passed).length;
  const percent = report.maxScore > 0 ? Math.round((report.score / report.maxScore) * 100) : 0;
  return `Score: ${report.score}/${report.maxScore} (${percent}%), ${passed} of ${report.results.length} checks passed`;
}

export function formatTextReport(report: CheckReport): string {
  const lines = [`Lab ${report.lab}${report.submission ? `, submission ${report.submission}` : ''}`];
  if (report.error) lines.push(`Not graded: ${report.error}`);
  lines.push(...report.results.map(formatResultLine), formatScore(report));
  return `${lines.join('\n')}\n`;
}

export function escapeXml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // Control characters other than tab/newline are not allowed in XML 1.0 at all, even escaped.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '�')
  );
}

/** One testsuite, one testcase per check; a failed check's message is its reason. */
export function formatJunit(report: CheckReport): string {
  const failures = report.results.filter((r) => !r.passed).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const suiteName = report.submission ? `${report.lab}/${report.submission}` : report.lab;
  const properties = [
    ['score', String(report.score)],
    ['maxScore', String(report.maxScore)],
    ...(report.submission ? [['submission', report.submission]] : []),
    ...(report.error ? [['error', report.error]] : []),
  ];
  const cases = report.results.map((r) => {
    const open = `    <testcase classname="${escapeXml(report.lab)}.${escapeXml(r.kind)}" name="${escapeXml(r.id)}: ${escapeXml(r.description)}" time="${seconds(r.durationMs)}"`;
    if (r.passed) return `${open}/>`;
    const body = [r.reason, r.hint ? `hint: ${r.hint}` : undefined].filter(Boolean).join('\n');
    return `${open}>\n      <failure message="${escapeXml(r.reason ?? 'failed')}" type="${escapeXml(r.kind)}">${escapeXml(body)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${report.results.length}" failures="${failures}" time="${seconds(report.durationMs)}">`,
    `  <testsuite name="${escapeXml(suiteName)}" tests="${report.results.length}" failures="${failures}" errors="${report.error ? 1 : 0}" timestamp="${escapeXml(report.startedAt)}" time="${seconds(report.durationMs)}">`,
    '    <properties>',
    ...properties.map(([name, value]) => `      <property name="${escapeXml(name!)}" value="${escapeXml(value!)}"/>`),
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break. A leading `=+-@` is defused so spreadsheets do not run it as a formula. */
export function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function formatSummaryCsv(rows: { student: string; report: CheckReport }[]): string {
  const lines = [['student', 'score', 'max', 'failed', 'error'].join(',')];
  for (const { student, report } of rows) {
    const failed = report.results.filter((r) => !r.passed).map((r) => r.id).join(' ');
    lines.push([student, report.score, report.maxScore, failed, report.error ?? ''].map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
