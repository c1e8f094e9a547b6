// An exam, live: each student's phase, time left, machines up, last "Check my work" score, grade and
// variant values; extend one student's time; grades CSV and JUnit. Refreshed every 2 s.
(() => {
  const root = document.getElementById('exam');
  const csrf = root.dataset.csrf;
  const id = new URLSearchParams(location.search).get('id') || '';
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (k === 'onclick') e.addEventListener('click', v); else e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  const left = (ms) => {
    if (ms === null || ms === undefined) return '—';
    const s = Math.ceil(ms / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };
  const values = (v) => (v && Object.keys(v).length ? Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`).join(', ') : '—');
  let message = '';
  async function extend(student, name) {
    const minutes = prompt(`More minutes for ${name}:`, '10');
    if (!minutes) return;
    const r = await fetch(`/api/exams/${id}/students/${student}/extend`, { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ minutes: Number(minutes) }), credentials: 'same-origin' });
    const data = await r.json().catch(() => ({}));
    message = r.ok ? `${name}: now ends at ${new Date(data.endsAt).toLocaleTimeString()}` : (data.message || data.error || r.statusText);
    render();
  }
  async function render() {
    const r = await fetch(`/api/exams/${encodeURIComponent(id)}`, { credentials: 'same-origin' });
    if (!r.ok) { root.textContent = 'Cannot load the exam (log in again?)'; return; }
    const x = await r.json();
    const e = x.exam;
    const head = el('tr', {}, ...['student', 'status', 'time left', 'machines up', 'last check', 'grade', 'values', ''].map((h) => el('th', {}, h)));
    const rows = x.students.map((s) => el('tr', { 'data-student': s.id },
      el('td', {}, el('a', { href: `/exam-student?exam=${encodeURIComponent(id)}&student=${s.id}` }, s.name), ` <${s.email}>`),
      el('td', { 'data-testid': 'phase' }, s.phase + (s.extraMinutes ? ` (+${s.extraMinutes} min)` : '')),
      el('td', { 'data-testid': 'time-left' }, left(s.remainingMs)),
      el('td', {}, s.machines ? `${s.machinesUp}/${s.machines}` : '—'),
      el('td', {}, s.lastScore ? `${s.lastScore.score}/${s.lastScore.maxScore}` : '—'),
      el('td', { 'data-testid': 'grade' }, s.grade ? `${s.grade.score}/${s.grade.maxScore}${s.grade.reason ? ` — ${s.grade.reason}` : ''}` : '—'),
      el('td', {}, values(s.values)),
      el('td', {}, s.phase === 'running' || s.phase === 'open' || s.phase === 'not-open' ? el('button', { onclick: () => extend(s.id, s.name) }, 'extend') : '')));
    root.replaceChildren(
      el('h2', {}, e.title),
      el('p', {}, `Lab ${e.lab}; opens ${new Date(e.opens).toLocaleString()}, closes ${new Date(e.closes).toLocaleString()}; ${e.durationMinutes} minutes each; check my work: ${e.checkMyWork.mode}${e.checkMyWork.count ? ` ${e.checkMyWork.count}` : ''}; internet: ${e.internet ? 'on' : 'off'}. `,
        el('a', { href: `/api/exams/${id}/grades.csv` }, 'grades (CSV)'), ' · ', el('a', { href: `/api/exams/${id}/junit.xml` }, 'grades (JUnit)')),
      message ? el('p', { class: 'queue' }, message) : '',
      el('table', {}, head, ...rows));
  }
  render();
  setInterval(render, 2000);
})();
