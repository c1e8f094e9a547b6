// Replay of a recorded console (asciicast v2) in xterm.js: play, pause, seek anywhere, 1×–16×. Seeking
// replays the output up to that moment into a fresh terminal; pauses longer than 2 s are shortened to
// 2 s (the idle time a player skips), the keystrokes are listed beside it with their times.
(() => {
  const root = document.getElementById('exam');
  const q = new URLSearchParams(location.search);
  const exam = q.get('exam') || '';
  const student = q.get('student') || '';
  const machine = q.get('machine') || '';
  const IDLE = 2;
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };
  const fmt = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, '0')}`;
  const visible = (s) => s.replace(/\r/g, '⏎').replace(/\x7f/g, '⌫').replace(/\x1b\[A/g, '↑').replace(/\x1b\[B/g, '↓').replace(/\x1b\[C/g, '→').replace(/\x1b\[D/g, '←').replace(/\t/g, '⇥').replace(/[\x00-\x1f]/g, (c) => `^${String.fromCharCode(c.charCodeAt(0) + 64)}`);

  async function main() {
    const r = await fetch(`/api/exams/${encodeURIComponent(exam)}/students/${encodeURIComponent(student)}/recordings/${encodeURIComponent(machine)}.cast`, { credentials: 'same-origin' });
    if (!r.ok) { root.textContent = 'Cannot load this recording.'; return; }
    const lines = (await r.text()).split('\n');
    const header = JSON.parse(lines[0]);
    const events = [];
    let prev = 0;
    let shift = 0;
    for (const line of lines.slice(1)) {
      if (!line.trim()) continue;
      let e;
      try { e = JSON.parse(line); } catch { continue; } // a torn last line
      if (!Array.isArray(e)) continue;
      if (e[0] - prev > IDLE) shift += e[0] - prev - IDLE;
      prev = e[0];
      events.push({ t: e[0] - shift, real: e[0], kind: e[1], data: e[2] });
    }
    const duration = events.length ? events[events.length - 1].t : 0;
    const screen = el('div', { id: 'replay-screen', 'data-testid': 'replay-screen' });
    const play = el('button', { 'data-testid': 'replay-play' }, 'Play');
    const seek = el('input', { type: 'range', min: '0', max: String(duration), step: '0.01', value: '0', 'data-testid': 'replay-seek', 'aria-label': 'position' });
    const speed = el('select', { 'data-testid': 'replay-speed', 'aria-label': 'speed' }, ...[1, 2, 4, 8, 16].map((s) => el('option', { value: String(s) }, `${s}×`)));
    const clock = el('span', { 'data-testid': 'replay-clock' }, `${fmt(0)} / ${fmt(duration)}`);
    // Keystrokes as lines: what was typed up to each Enter (or a pause), without the terminal's own
    // answers to the guest (cursor position reports), which the recording keeps.
    const typed = [];
    for (const e of events) {
      if (e.kind !== 'i') continue;
      const data = e.data.replace(/\x1b\[\d+;\d+R/g, '');
      if (!data) continue;
      const last = typed[typed.length - 1];
      if (last && !last.closed && e.t - last.end <= IDLE) { last.text += data; last.end = e.t; } else typed.push({ t: e.t, end: e.t, text: data, closed: false });
      if (/[\r\n]/.test(data)) typed[typed.length - 1].closed = true;
    }
    const keys = el('ol', { class: 'keys', 'data-testid': 'replay-keys' }, ...typed.map((l) => el('li', { 'data-t': String(l.end) }, el('span', { class: 'muted' }, `${fmt(l.t)} `), visible(l.text))));
    const marks = events.filter((e) => e.kind === 'm').map((e) => `${fmt(e.t)} ${e.data}`);
    root.replaceChildren(
      el('h2', {}, `${machine} — ${header.title || ''}`),
      el('p', {}, `Recorded from ${new Date(header.timestamp * 1000).toLocaleString()}; pauses over ${IDLE} s are shortened. `, el('a', { href: `/exam-student?exam=${encodeURIComponent(exam)}&student=${encodeURIComponent(student)}` }, 'back')),
      el('div', { class: 'replay-bar' }, play, seek, speed, clock),
      marks.length ? el('p', { class: 'queue' }, marks.join('; ')) : '',
      el('div', { class: 'replay' }, screen, el('div', {}, el('h3', {}, 'Keystrokes'), keys)));

    const term = new window.Terminal({ cols: header.width || 80, rows: header.height || 24, convertEol: false, disableStdin: true, scrollback: 5000 });
    term.open(screen);
    let pos = 0; // replay time shown
    let next = 0; // index of the next event to apply
    let playing = false;
    let last = 0;
    const apply = (upTo) => {
      let out = '';
      while (next < events.length && events[next].t <= upTo) {
        const e = events[next++];
        if (e.kind === 'o') out += e.data;
        else if (e.kind === 'r') {
          const [c, rr] = e.data.split('x').map(Number);
          if (out) { term.write(out); out = ''; }
          if (c > 0 && rr > 0) term.resize(c, rr);
        }
      }
      if (out) term.write(out);
      for (const li of keys.children) li.classList.toggle('done', Number(li.dataset.t) <= upTo);
    };
    const show = () => { seek.value = String(pos); clock.textContent = `${fmt(pos)} / ${fmt(duration)}`; root.dataset.position = String(pos); };
    const jump = (t) => {
      pos = Math.max(0, Math.min(duration, t));
      term.reset();
      if (header.width && header.height) term.resize(header.width, header.height);
      next = 0;
      apply(pos);
      show();
    };
    const frame = (now) => {
      if (!playing) return;
      pos = Math.min(duration, pos + ((now - last) / 1000) * Number(speed.value));
      last = now;
      apply(pos);
      show();
      if (pos >= duration) { playing = false; play.textContent = 'Play'; return; }
      requestAnimationFrame(frame);
    };
    play.addEventListener('click', () => {
      if (playing) { playing = false; play.textContent = 'Play'; return; }
      if (pos >= duration) jump(0);
      playing = true;
      play.textContent = 'Pause';
      last = performance.now();
      requestAnimationFrame(frame);
    });
    seek.addEventListener('input', () => jump(Number(seek.value)));
    root.dataset.duration = String(duration);
    root.dataset.ready = '1';
    show();
  }
  main().catch((e) => { root.textContent = `Cannot replay: ${e.message}`; });
})();
