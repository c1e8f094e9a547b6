// One student's exam: the values of their variant, the timeline (start, checks, cables, reconnects,
// refusals, the end), the grade report with every check, and a replay of each recorded console.
(() => {
  const root = document.getElementById('exam');
  const q = new URLSearchParams(location.search);
  const exam = q.get('exam') || '';
  const student = q.get('student') || '';
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  async function render() {
    const r = await fetch(`/api/exams/${encodeURIComponent(exam)}/students/${encodeURIComponent(student)}`, { credentials: 'same-origin' });
    if (!r.ok) { root.textContent = 'Cannot load this student\'s exam.'; return; }
    const d = await r.json();
    const g = d.grade;
    const report = g && g.report;
    root.replaceChildren(
      el('h2', {}, `${d.exam.title}: ${d.student.name} <${d.student.email}>`),
      el('p', {}, `Status: ${d.phase}. `, el('a', { href: `/exam?id=${encodeURIComponent(exam)}` }, 'back to the exam')),
      el('h3', {}, 'Variant'),
      el('p', {}, d.values && Object.keys(d.values).length ? Object.entries(d.values).map(([k, v]) => `${k} = ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ') : 'no parameters'),
      el('h3', {}, 'Grade'),
      g ? el('p', { 'data-testid': 'grade' }, `${g.score}/${g.maxScore}${g.reason ? ` — ${g.reason}` : ''}${g.startedForGrading ? ' (the lab was stopped at the end: it was started to be graded)' : ''}`) : el('p', {}, 'not graded yet'),
      report ? el('table', { 'data-testid': 'report' }, el('tr', {}, el('th', {}, 'check'), el('th', {}, 'points'), el('th', {}, 'result')),
        ...report.results.map((c) => el('tr', {}, el('td', {}, `${c.id}: ${c.description}`), el('td', {}, `${c.earned}/${c.points}`), el('td', {}, c.passed ? 'passed' : `failed: ${c.reason || ''}`)))) : '',
      el('h3', {}, 'Consoles'),
      d.recordings.length ? el('ul', {}, ...d.recordings.map((rec) => el('li', {}, el('a', { href: `/replay?exam=${encodeURIComponent(exam)}&student=${encodeURIComponent(student)}&machine=${encodeURIComponent(rec.machine)}`, 'data-testid': `replay-${rec.machine}` }, `replay ${rec.machine}`), ` (${Math.ceil(rec.bytes / 1024)} KiB) · `, el('a', { href: `/api/exams/${encodeURIComponent(exam)}/students/${encodeURIComponent(student)}/recordings/${encodeURIComponent(rec.machine)}.cast` }, 'asciicast file')))) : el('p', {}, 'no console recorded'),
      el('h3', {}, 'Timeline'),
      el('table', { 'data-testid': 'timeline' }, ...d.timeline.map((e) => el('tr', { 'data-kind': e.kind }, el('td', {}, new Date(e.at).toLocaleTimeString()), el('td', {}, e.kind), el('td', {}, e.text)))));
  }
  render();
})();
