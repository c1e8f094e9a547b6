// The app's composition root: makes the state, the views and the controllers, wires the toolbar to
// them and boots on a lab. What each part does is in its own module: run-state.ts (the running lab,
// one writer) and run-controller.ts (Start, Stop, Apply, events, the status refresh), lab-files.ts and
// file-dialog.ts (New, Open, Save), cable-menu.ts (the right-click menu, cables), editing.ts (edit
// commands, keyboard, palette), layout.ts (side panels, resizing), views.ts (re-rendering on changes),
// connection.ts (server gone and back). A new panel is made here and handed the App (app.ts).
import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { connectBridge, serviceProxy } from './api.ts';
import { makeApp } from './app.ts';
import { CableMenu } from './cable-menu.ts';
import { wireConnection } from './connection.ts';
import { Consoles } from './consoles.ts';
import { $ } from './dom.ts';
import { wireEditing } from './editing.ts';
import { Canvas } from './editor/canvas.ts';
import { Annotations } from './editor/annotations.ts';
import { PropertiesPanel } from './editor/properties.ts';
import { ExamClock } from './exam.ts';
import { exportDrawing } from './export.ts';
import { LabFiles } from './lab-files.ts';
import { LabPanel } from './lab-panel.ts';
import { showSide, wireLayout } from './layout.ts';
import { Help } from './help.ts';
import { PacketFlow } from './packet-flow.ts';
import { PacketPane } from './packets.ts';
import { RunController } from './run-controller.ts';
import { AppState } from './state.ts';
import { StatesPanel } from './states-panel.ts';
import { wireViews } from './views.ts';

const bridge = connectBridge();
const api = serviceProxy(bridge);
const state = new AppState();
const app = makeApp(api, state, showSide);
const { notify, fail } = app;

// A single click on an element shows its properties; a double-click (its console) must not take the
// student's instructions away, so the switch waits until a double-click is no longer possible.
let propertiesTimer: number | undefined;
const openConsole = (machine: string) => {
  window.clearTimeout(propertiesTimer);
  void run.openConsole(machine);
};
const canvas = new Canvas($('canvas'), state, {
  onError: (m) => notify(m, 'error'),
  onContextMenu: (id, at) => menu.show(id, at),
  onOpenConsole: openConsole,
  onTapElement: () => {
    window.clearTimeout(propertiesTimer);
    propertiesTimer = window.setTimeout(() => showSide('properties'), 400);
  },
});
const properties = new PropertiesPanel($('properties'), state, (m) => notify(m, 'error'));
const labPanel = new LabPanel($('lab-panel'), state, api);
const consoles = new Consoles($('consoles'), api, (m) => notify(m, 'error'));
const packets = new PacketPane(api, () => state.folder, (m, kind) => notify(m, kind ?? 'info'));
// Watch packets move: the capture's frames as dots along the cables they cross.
const packetFlow = new PacketFlow(canvas.cy, $('canvas'), api, () => ({ folder: state.folder, model: state.model }), (n) => void packets.showPacket(n));
packets.observer = packetFlow;
// Shortcuts on `?`, and the first-run tour (open a lab, Start, open a console).
const help = new Help({ running: () => [...state.machineStates.values()].includes('ready'), consoleOpen: () => consoles.openMachines().length > 0 });
help.maybeStartTour();
const states = new StatesPanel(api, state, notify, fail);
const examClock = new ExamClock($('exam-clock'), () => state.folder, (notice) => notify(notice.message ?? `${notice.title}: time is up.`, 'error'));

const run: RunController = new RunController(app, consoles, (saveAs: boolean): Promise<boolean> => files.save(saveAs));
const files: LabFiles = new LabFiles(app, { canvas, consoles, labPanel, packets, run });
const menu = new CableMenu(app, packets, {
  openConsole,
  newConsole: (machine) => void run.openConsole(machine, true),
  machineAction: (machine, action) => void run.machineAction(machine, action),
  machineMenuItems: (machine) => states.machineMenuItems(machine),
  deleteSelection: () => editing.deleteSelection(),
});
// Notes and rectangles on the canvas; the empty canvas's right-click menu adds them and exports the drawing.
new Annotations(canvas.cy, $('canvas'), state, menu, () => (['svg', 'png'] as const).map((format) => [
  `Export drawing as ${format.toUpperCase()}`,
  () => void exportDrawing(canvas.cy, state.model.annotations ?? [], state.model.meta.name, format).then((file) => notify(`Drawing exported as ${file}.`), fail),
]));
const editing = wireEditing(app, canvas, menu, (saveAs) => files.save(saveAs));
const views = wireViews(app, { canvas, properties, labPanel, run });
wireLayout();
const connected = wireConnection(app, bridge, consoles, run);

bridge.onPush((message) => {
  if (message.kind === 'exam') examClock.update(message.exam);
  else if (message.kind === 'event') {
    if (message.labRoot === state.folder) run.handleEvent(message.event);
  } else if (message.kind === 'packets' || message.kind === 'capture-status') packets.handlePush(message);
  else consoles.handlePush(message);
});
// The machines' memory (as `vnetlab status` shows it) and anything an event missed, while the lab runs.
run.startRefreshing(connected);

// ---- the toolbar ------------------------------------------------------------------------------

$('new').addEventListener('click', () => void files.newLab());
$('open').addEventListener('click', () => void files.chooseAndOpen());
$('save').addEventListener('click', () => void files.save(false));
$('save-as').addEventListener('click', () => void files.save(true));
$('undo').addEventListener('click', () => state.undo());
$('redo').addEventListener('click', () => state.redo());
$('fit').addEventListener('click', () => canvas.fit());
$('relayout').addEventListener('click', () => void canvas.autoLayout(true));
$('zoom-in').addEventListener('click', () => canvas.cy.zoom({ level: canvas.cy.zoom() * 1.2, renderedPosition: { x: canvas.cy.width() / 2, y: canvas.cy.height() / 2 } }));
$('zoom-out').addEventListener('click', () => canvas.cy.zoom({ level: canvas.cy.zoom() / 1.2, renderedPosition: { x: canvas.cy.width() / 2, y: canvas.cy.height() / 2 } }));
($('snap') as HTMLInputElement).addEventListener('change', (e) => {
  canvas.snap = (e.target as HTMLInputElement).checked;
});
($('show-addresses') as HTMLInputElement).addEventListener('change', (e) => {
  canvas.showAddresses = (e.target as HTMLInputElement).checked;
  canvas.sync();
});
$('start').addEventListener('click', () => void run.start());
$('apply').addEventListener('click', () => void run.applyLive());
$('stop').addEventListener('click', () => void run.stop());

// Closing the window leaves the lab running; only unsaved edits deserve a warning.
window.addEventListener('beforeunload', (e) => {
  if (state.dirty) {
    e.preventDefault();
    e.returnValue = '';
  }
});

// ---- start-up --------------------------------------------------------------------------------

/** Read-only hooks for the end-to-end tests and the UI benchmark (the graph and terminal buffers). */
(window as unknown as { __vnetlab: unknown }).__vnetlab = {
  cy: canvas.cy,
  state,
  api,
  consoleText: (machine: string) => consoles.bufferText(machine),
  consoleWritten: (machine: string) => consoles.writtenChars(machine),
  consoleSelection: (machine: string) => consoles.selection(machine),
  consoleSize: (key: string) => consoles.size(key),
  packetFlow: () => packetFlow.snapshot(),
};

async function boot(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const lab = params.get('lab');
  views.renderProblems();
  showSide('lab-panel');
  if (lab) return void (await files.openLab(lab));
  const labs = await api.listLabs().catch(() => []);
  const first = labs.find((l) => l.name === 'two-hosts') ?? labs[0];
  if (first) return void (await files.openLab(first.path));
  return files.newLab();
}
void boot().catch(fail);
