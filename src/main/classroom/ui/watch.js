// A student's console, read-only: the server attaches for the instructor and forwards output only.
(() => {
  const screen = document.getElementById('screen');
  const q = new URLSearchParams(location.search);
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/watch?${new URLSearchParams({ student: q.get('student') || '', lab: q.get('lab') || '', machine: q.get('machine') || '' })}`);
  // eslint-disable-next-line no-control-regex
  const strip = (s) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g, '');
  ws.onmessage = (e) => {
    const { data } = JSON.parse(e.data);
    screen.textContent = (screen.textContent + strip(data)).slice(-200000);
    screen.scrollTop = screen.scrollHeight;
  };
  ws.onclose = () => { screen.textContent += '\n[disconnected]'; };
})();
