// A console in a window of its own (console.html?lab=…&machine=…), popped out of the app's console
// panel: the same server, session cookie and service API as the app, and the same Consoles class (flow
// control, replay, re-attach). It follows the lab's events to re-attach when the machine runs again.
import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { connectBridge, serviceProxy } from './api.ts';
import { Consoles, parseConsoleKey } from './consoles.ts';
import { $ } from './dom.ts';

const params = new URLSearchParams(location.search);
const lab = params.get('lab') ?? '';
// `machine` is a console's key: `pc1`, or `pc1#2` for the machine's second console.
const key = params.get('machine') ?? '';
const { machine, index } = parseConsoleKey(key);
const bridge = connectBridge();
const api = serviceProxy(bridge);
const status = $('status');
const say = (message: string) => (status.textContent = message);
const consoles = new Consoles($('consoles'), api, say, false);
document.title = `${index ? `${machine} (${index + 1})` : machine} — vnetlab console`;

bridge.onPush((message) => {
  if (message.kind === 'event' && message.labRoot === lab) {
    const e = message.event;
    if (e.type === 'machine-state' && e.machine === machine && e.state === 'ready') void consoles.revive(machine);
  } else consoles.handlePush(message);
});
bridge.onConnection?.((up) => {
  if (!up) {
    consoles.connectionLost();
    say('Disconnected from the vnetlab server: reconnecting…');
    return;
  }
  say('');
  // Back after a lost connection: this window's one console attaches again (not the app's other tabs).
  void api.subscribe(lab).then(() => consoles.revive(machine), () => {});
});

/** Read-only hooks for the end-to-end tests. */
(window as unknown as { __vnetlab: unknown }).__vnetlab = { consoleText: (m: string) => consoles.bufferText(m) };

async function boot(): Promise<void> {
  if (!lab || !machine) return void say('This window shows one console: open it from the app (Pop out in the consoles panel).');
  consoles.setLab(lab);
  await api.subscribe(lab).catch(() => {});
  await consoles.open(key);
  say(`${machine} in ${lab}`);
}
void boot().catch((err: Error) => say(err.message));
