// The Electron shell: one window on the built renderer, sandboxed (no Node in the page, context
// isolation, sandbox), and IPC bound to the same transport-free service as `vnetlab serve`.
// Loaded through ./main.cjs (package.json "main"), which registers tsx first.
import { app, BrowserWindow, ipcMain, shell, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IPC_CALL, IPC_PUSH } from '../../shared/service-api.ts';
import { DEFAULT_LAB, ensureRenderer, REPO_ROOT, SHIPPED_LABS } from '../server/app-host.ts';
import { dispatch } from '../service/dispatch.ts';
import { realBackends } from '../service/real-backends.ts';
import { Service, type ClientSession } from '../service/service.ts';

const PRELOAD = join(REPO_ROOT, 'dist', 'electron', 'preload.cjs');

const labArg = process.argv.slice(app.isPackaged ? 1 : 2).find((a) => !a.startsWith('-'));
const initialLab = resolve(labArg ?? DEFAULT_LAB);
const service = new Service({
  // The lab supervisor is spawned with process.execPath, which is Electron here: run it as plain Node.
  backends: realBackends({ env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } }),
  labsDir: SHIPPED_LABS,
  home: process.env.HOME || homedir(),
  extraRoots: [dirname(initialLab)],
});

/** One service session per window's page; closed when the page goes away (labs keep running). */
const sessions = new Map<number, ClientSession>();

function sessionFor(contents: WebContents): ClientSession {
  let session = sessions.get(contents.id);
  if (!session) {
    session = service.connect((message) => {
      if (!contents.isDestroyed()) contents.send(IPC_PUSH, message);
    });
    sessions.set(contents.id, session);
    const close = () => {
      sessions.get(contents.id)?.close();
      sessions.delete(contents.id);
    };
    contents.once('destroyed', close);
    contents.on('did-start-navigation', (_e, _url, isInPlace, isMainFrame) => {
      if (isMainFrame && !isInPlace) close(); // a reload: the new page attaches afresh
    });
  }
  return session;
}

let rendererUrl = '';
/** A console popped out of the app (Pop out): console.html beside index.html, with the same preload. */
let consolePage = '';
const fromOurPages = (url: string) => url.startsWith(rendererUrl.split('?')[0]!) || (!!consolePage && url.startsWith(`${consolePage}?`));

ipcMain.handle(IPC_CALL, async (event: IpcMainInvokeEvent, method: unknown, params: unknown) => {
  // Only our own page may call the service.
  if (!event.senderFrame || !fromOurPages(event.senderFrame.url)) {
    return { error: { code: 'unauthorized', message: 'calls are accepted from the vnetlab window only' } };
  }
  return dispatch(() => sessionFor(event.sender), method, params);
});

const WEB_PREFERENCES = { preload: PRELOAD, nodeIntegration: false, contextIsolation: true, sandbox: true, webSecurity: true };

function createWindow(): void {
  const win = new BrowserWindow({ width: 1400, height: 900, title: 'vnetlab', webPreferences: WEB_PREFERENCES });
  guard(win.webContents);
  void win.loadURL(rendererUrl);
}

/** The app never navigates away; links from lab descriptions open in the user's browser; a console may pop out. */
function guard(contents: WebContents): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (consolePage && url.startsWith(`${consolePage}?`)) return { action: 'allow', overrideBrowserWindowOptions: { width: 820, height: 520, title: 'vnetlab console', webPreferences: WEB_PREFERENCES } };
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  contents.on('did-create-window', (child) => guard(child.webContents));
  contents.on('will-navigate', (e, url) => {
    if (!fromOurPages(url)) e.preventDefault();
  });
}

/** `electron .` straight from a checkout: bundle the sandboxed preload first if it is not there. */
function ensurePreload(): void {
  if (existsSync(PRELOAD)) return;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'src', 'main', 'electron', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  if (r.status !== 0) throw new Error('bundling the Electron preload failed (see above)');
}

app.whenReady().then(() => {
  ensurePreload();
  const dir = ensureRenderer((line) => process.stderr.write(`${line}\n`));
  rendererUrl = `${pathToFileURL(join(dir, 'index.html')).href}?lab=${encodeURIComponent(initialLab)}`;
  consolePage = pathToFileURL(join(dir, 'console.html')).href;
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

// Closing the window leaves labs running (their supervisors are separate processes).
app.on('window-all-closed', () => {
  for (const s of sessions.values()) s.close();
  sessions.clear();
  if (process.platform !== 'darwin') app.quit();
});
