// The folder dialog of Open and Save as: browse the folders the app may use (their roots as
// shortcuts), type or pick one, and keep the dialog open with a message when the choice does not work.
import type { FolderListing, SaveFormat } from '../shared/service-api.ts';
import { type App, errorText } from './app.ts';
import { $, h } from './dom.ts';

/**
 * The folder dialog: browse folders under the allowed roots (shown as shortcuts). `accept` does the
 * real work (open, save) with the chosen folder and returns an error message to keep the dialog open
 * with what was typed and the message beside the field, or undefined when done. Resolves true when
 * accepted, false when cancelled.
 */
export function chooseFolder(app: App, title: string, opts: { forSave: boolean; initial?: string }, accept: (choice: { path: string; format: SaveFormat }) => Promise<string | undefined>): Promise<boolean> {
  const { api, state } = app;
  const dialog = $('file-dialog') as HTMLDialogElement;
  return new Promise((resolve) => {
    const pathInput = $('dialog-path') as HTMLInputElement;
    const formatRow = $('dialog-format-row');
    const formatSelect = $('dialog-format') as HTMLSelectElement;
    const errorLine = $('dialog-error');
    const okButton = $('dialog-ok') as HTMLButtonElement;
    $('dialog-title').textContent = title;
    okButton.textContent = opts.forSave ? 'Save' : 'Open';
    okButton.disabled = false;
    errorLine.textContent = '';
    formatRow.hidden = !opts.forSave;
    formatSelect.value = state.model.format === 'vnetlab' ? 'yaml' : 'netkit';
    const list = $('dialog-list');
    // The field starts with the suggestion and follows the folders the user clicks; a listing that
    // arrives late never overwrites what the user typed meanwhile.
    let typed = false;
    pathInput.value = opts.forSave ? (state.folder || opts.initial || '') : '';
    pathInput.oninput = () => {
      typed = true;
      errorLine.textContent = '';
    };
    const show = async (path?: string, navigated = false) => {
      try {
        const listing: FolderListing = await api.listFolder(path);
        if (navigated || (!typed && !pathInput.value)) {
          pathInput.value = listing.path;
          typed = false;
        }
        errorLine.textContent = '';
        const rows = listing.entries.map((e) => {
          const row = h('li', { class: e.kind, 'data-path': e.path }, e.kind === 'lab' ? `[lab] ${e.name}` : `${e.name}/`, e.format ? h('span', { class: 'muted' }, ` ${e.format}`) : '');
          row.addEventListener('click', () => {
            pathInput.value = e.path;
            errorLine.textContent = '';
          });
          row.addEventListener('dblclick', () => {
            if (e.kind === 'folder' || opts.forSave) void show(e.path, true);
            else void finish(e.path);
          });
          return row;
        });
        if (listing.parent) {
          const up = h('li', { class: 'folder' }, '../');
          up.addEventListener('click', () => void show(listing.parent, true));
          rows.unshift(up);
        }
        // Shortcuts to the allowed folders. type=button: inside the dialog's form, a plain button would submit and close it.
        const roots = listing.roots.map((r) => {
          const b = h('button', { type: 'button', class: 'small', title: `open ${r}` }, r);
          b.addEventListener('click', (ev) => {
            ev.preventDefault();
            void show(r, true);
          });
          return b;
        });
        $('dialog-roots').replaceChildren(...roots);
        list.replaceChildren(...rows);
      } catch (err) {
        errorLine.textContent = errorText(err);
      }
    };
    const done = (accepted: boolean) => {
      dialog.close();
      okButton.onclick = null;
      $('dialog-cancel').onclick = null;
      dialog.oncancel = null;
      resolve(accepted);
    };
    const finish = async (value: string | undefined) => {
      if (!value) {
        errorLine.textContent = opts.forSave ? 'Type or choose the folder to save the lab in.' : 'Type or choose the folder of a lab.';
        return;
      }
      okButton.disabled = true;
      errorLine.textContent = '';
      try {
        const problem = await accept({ path: value, format: formatSelect.value as SaveFormat });
        if (problem === undefined) return done(true);
        errorLine.textContent = problem;
        pathInput.focus();
      } finally {
        okButton.disabled = false;
      }
    };
    okButton.onclick = (e) => {
      e.preventDefault();
      void finish(pathInput.value.trim() || undefined);
    };
    $('dialog-cancel').onclick = (e) => {
      e.preventDefault();
      done(false);
    };
    dialog.oncancel = (e) => {
      e.preventDefault();
      done(false);
    };
    pathInput.onkeydown = (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        void finish(pathInput.value.trim() || undefined);
      }
    };
    dialog.showModal();
    void show(opts.forSave && state.folder ? state.folder : undefined);
    pathInput.focus();
  });
}
