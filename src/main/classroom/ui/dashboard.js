// Instructor dashboard: who runs what, memory, last scores, queue; reset, grade (hidden checks run on
// the server), watch a console read-only, import a roster, export grades. No framework, no inline script.
(() => {
  const root = document.getElementById('dashboard');
  const csrf = root.dataset.csrf;
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) if (k === 'onclick') e.addEventListener('click', v); else e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  const post = async (path, body = '', type = 'text/plain') => {
    const r = await fetch(path, { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': type }, body, credentials: 'same-origin' });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.message || data.error || r.statusText);
    return data;
  };
  const mb = (b) => `${Math.round(b / 1048576)} MB`;
  let message = '';
  async function render() {
    const r = await fetch('/api/class', { credentials: 'same-origin' });
    if (!r.ok) { root.textContent = 'Cannot load the class (log in again?)'; return; }
    const c = await r.json();
    const head = el('tr', {}, el('th', {}, 'student'), el('th', {}, 'worker'), el('th', {}, 'running'), el('th', {}, 'memory'), ...c.labs.map((l) => el('th', {}, l.title)));
    // Which worker serves whom, and whether it answers (its students' labs live there).
    const workerCell = (i) => {
      const w = c.workers[i];
      if (!w) return el('td', {}, '');
      return el('td', { 'data-testid': 'worker', class: w.up ? '' : 'error', title: w.label }, `worker ${i}`, w.up ? '' : ` — not answering since ${new Date(w.since).toLocaleTimeString()}`);
    };
    const rows = c.students.filter((s) => s.role === 'student').map((s) => {
      const mem = s.running.reduce((a, l) => a + l.memoryBytes, 0);
      const running = s.running.map((l) => `${l.lab}: ${l.machines.map((m) => `${m.name} ${m.state}`).join(', ')}`).join('; ') || (s.queuePosition ? `queued #${s.queuePosition}` : '—');
      return el('tr', {},
        el('td', {}, `${s.name} <${s.email}>`, s.active ? '' : ' (invited)'),
        workerCell(s.worker),
        el('td', {}, running),
        el('td', {}, mem ? mb(mem) : ''),
        ...c.labs.map((l) => {
          const sc = s.scores[l.id];
          const runningLab = s.running.find((x) => x.lab === l.id);
          const v = s.values && s.values[l.id];
          return el('td', {},
            v && Object.keys(v).length ? el('div', { class: 'muted', 'data-testid': `values-${l.id}` }, Object.entries(v).map(([k, x]) => `${k}=${x}`).join(', ')) : '',
            sc ? `${sc.score}/${sc.maxScore}${sc.hidden ? ' (all checks)' : ''} ` : '',
            el('button', { onclick: () => act(post(`/api/students/${s.id}/labs/${l.id}/grade`), `graded ${s.name}`) }, 'grade'),
            el('button', { onclick: () => confirm(`Reset ${s.name}'s ${l.title}? Their work in it is deleted.`) && act(post(`/api/students/${s.id}/labs/${l.id}/reset`), `reset ${s.name}`) }, 'reset'),
            el('a', { href: `/api/students/${s.id}/labs/${l.id}/pack`, 'data-testid': `pack-${s.id}-${l.id}`, title: 'This lab as it is now (disks and live network state) as a .vnlpack' }, ' pack'),
            ...(runningLab ? runningLab.machines.map((m) => el('a', { href: `/watch?student=${s.id}&lab=${l.id}&machine=${encodeURIComponent(m.name)}`, target: '_blank' }, ` watch ${m.name}`)) : []));
        }));
    });
    const ex = await fetch('/api/exams', { credentials: 'same-origin' }).then((x) => (x.ok ? x.json() : []), () => []);
    const roster = el('textarea', { placeholder: 'name,email (one student a line)' });
    const links = el('pre');
    root.replaceChildren(
      el('p', {}, `In use: ${c.used.machines}/${c.capacity.machines} machines, ${c.used.memoryMb}/${c.capacity.memoryMb} MiB; queue: ${c.queue.length}. `, el('a', { href: '/api/grades.csv' }, 'export grades (CSV)')),
      c.workers.length > 1 || c.workers.some((w) => !w.up) ? el('p', { 'data-testid': 'workers' }, `Workers: ${c.workers.map((w) => `worker ${w.index} ${w.up ? 'up' : 'not answering'}`).join(', ')}`) : '',
      message ? el('p', { class: 'queue' }, message) : '',
      el('table', {}, head, ...rows),
      ex.length ? el('h2', {}, 'Exams') : '',
      ex.length ? el('ul', { class: 'exams' }, ...ex.map((e) => el('li', {}, el('a', { href: `/exam?id=${encodeURIComponent(e.id)}`, 'data-testid': `exam-${e.id}` }, e.title), ` — lab ${e.lab}, ${e.durationMinutes} min, ${new Date(e.opens).toLocaleString()} to ${new Date(e.closes).toLocaleString()}`))) : '',
      el('h2', {}, 'Add students'),
      roster,
      el('button', { onclick: async () => { try { const made = await post('/api/roster', roster.value, 'text/csv'); links.textContent = made.map((m) => `${m.name} <${m.email}>: ${m.link}`).join('\n'); } catch (e) { links.textContent = e.message; } } }, 'Import and make invitation links'),
      links);
  }
  async function act(p, what) {
    try { await p; message = what; } catch (e) { message = e.message; }
    await render();
  }
  render();
  setInterval(render, 5000);
})();
