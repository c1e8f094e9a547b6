// Keeping the views in step with the state: each change (the model, the selection, diagnostics, the
// run state, the file) re-renders the views that show it — the canvas, the properties and lab panels,
// the title, the problems list and the run controls; an edited model is validated a moment later.
import type { Diagnostic } from '../shared/diagnostics.ts';
import type { App } from './app.ts';
import { $, h } from './dom.ts';
import type { Canvas } from './editor/canvas.ts';
import type { PropertiesPanel } from './editor/properties.ts';
import { parseElementId } from './graph/mapping.ts';
import type { LabPanel } from './lab-panel.ts';
import type { RunController } from './run-controller.ts';

export interface Views {
  canvas: Canvas;
  properties: PropertiesPanel;
  labPanel: LabPanel;
  run: RunController;
}

export function wireViews(app: App, views: Views): { renderProblems(): void } {
  const { api, state, fail, showSide } = app;
  const { canvas, properties, labPanel, run } = views;
  let validateTimer: number | undefined;
  let validateSeq = 0;

  async function validateNow(): Promise<void> {
    const seq = ++validateSeq;
    try {
      const diagnostics = await api.validate(state.model);
      if (seq !== validateSeq) return;
      state.diagnostics = diagnostics;
      state.emit('diagnostics');
    } catch (err) {
      if (seq === validateSeq) fail(err);
    }
  }

  function renderTitle(): void {
    const name = state.model.meta.title || state.model.meta.name || 'untitled';
    document.title = `${state.dirty ? '• ' : ''}${name} — vnetlab`;
    $('lab-title').textContent = name;
    $('lab-unsaved').textContent = state.dirty ? ' (unsaved)' : ''; // apart from the title, which may be cut short
    $('lab-path').textContent = state.folder || 'not saved yet';
    ($('undo') as HTMLButtonElement).disabled = !state.history.canUndo;
    ($('redo') as HTMLButtonElement).disabled = !state.history.canRedo;
  }

  function renderProblems(): void {
    const list = $('problems');
    const items = state.diagnostics.map((d: Diagnostic) => {
      const where = d.line > 0 ? `${d.file}:${d.line}` : d.file;
      const li = h('li', { class: `diag diag-${d.severity}` }, `${d.severity}: ${d.message}`, h('span', { class: 'muted' }, where ? ` — ${where}` : ''), d.hint ? h('div', { class: 'hint' }, d.hint) : '');
      if (d.target) {
        li.addEventListener('click', () => {
          const ref = parseElementId(d.target!);
          if (ref?.type === 'iface') state.select([`machine:${ref.machine}`]);
          else if (ref) state.select([d.target!]);
          showSide('properties');
        });
      }
      return li;
    });
    list.replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, 'No problems found.')]));
    const errors = state.diagnostics.filter((d) => d.severity === 'error').length;
    $('problems-count').textContent = errors ? ` (${errors})` : '';
  }

  state.on((changes) => {
    // What the run changes touched (one machine's event: its node and cables only, not all 500).
    const runChanges = changes.has('run') ? state.run.takeChanges() : undefined;
    if (changes.has('model')) {
      canvas.sync();
      canvas.showRunState();
      canvas.showDiagnostics();
      window.clearTimeout(validateTimer);
      validateTimer = window.setTimeout(() => void validateNow(), 250);
    }
    if (changes.has('model') || changes.has('selection') || changes.has('diagnostics') || changes.has('run')) properties.render();
    if (changes.has('diagnostics')) {
      canvas.showDiagnostics();
      renderProblems();
    }
    if (changes.has('run') && !changes.has('model')) canvas.showRunState(runChanges);
    if (changes.has('model') || changes.has('file') || changes.has('run')) {
      labPanel.render();
      renderTitle();
      run.renderControls();
    }
  });
  return { renderProblems };
}
