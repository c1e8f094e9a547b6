// Machine consoles: xterm.js terminals in tabs, up to four side by side (Split cycles 1 → 2 → 3 → 4
// panes), and popped out into a window of their own (console-window.ts). A machine has its own console
// (tab `pc1`) and up to 7 more, each a shell of its own (tabs `pc1 (2)`…, keys `pc1#2`…; "New console",
// or Kathará's num_terms at Start: runtime/extra-console.ts).
// Output is acknowledged to the service only after xterm has parsed it (write callback), so a flood
// (`yes`, `dmesg`, a big `cat`) pauses the guest instead of freezing the page. Open consoles are
// remembered per lab for this tab, so a reload re-attaches and the replay shows the earlier output.
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';
import { CONSOLE_ACK_BATCH_CHARS, type PushMessage, type VnetlabService } from '../shared/service-api.ts';
import { h } from './dom.ts';
import './console-panes.css';

const MAX_PANES = 4;
/** Consoles of one machine at most (runtime/extra-console.ts MAX_CONSOLES). */
export const MAX_MACHINE_CONSOLES = 8;

/** A console tab's key: the machine's name for its own console (index 0), `pc1#2` for its second (index 1). */
export function consoleKey(machine: string, index = 0): string {
  return index > 0 ? `${machine}#${index + 1}` : machine;
}

/** The machine and console index of a key (a plain machine name, as remembered before extra consoles, is console 0). */
export function parseConsoleKey(key: string): { machine: string; index: number } {
  const m = /^(.+)#(\d)$/.exec(key);
  const n = m ? Number(m[2]) : 0;
  return m && n >= 2 && n <= MAX_MACHINE_CONSOLES ? { machine: m[1]!, index: n - 1 } : { machine: key, index: 0 };
}

interface ConsoleTab {
  /** Its key in `tabs`: consoleKey(machine, index). */
  key: string;
  machine: string;
  /** Which console of the machine: 0 is its own, 1.. the extra ones. */
  index: number;
  consoleId?: string;
  term: Terminal;
  fit: FitAddon;
  search: SearchAddon;
  host: HTMLElement;
  tab: HTMLElement;
  /** Parsed characters not yet acknowledged (sent in batches). */
  ackPending: number;
  /** Characters written into the terminal since it opened (for the UI benchmark). */
  written: number;
  ackTimer?: number;
  /** The machine's console ended (stopped, crashed, connection lost): the tab waits to be re-attached. */
  dead: boolean;
  attaching?: Promise<void>;
  /**
   * What was typed while the tab was attaching (a double-click, then typing at once): sent as soon as
   * the console is attached, instead of being lost. Typing into a dead tab (machine stopped) is not kept.
   */
  typedWhileAttaching?: string;
  /** The same console is re-attached after a lost connection: its replay repeats what the tab shows, so start clean. */
  resetOnAttach?: boolean;
}

export class Consoles {
  private readonly tabs = new Map<string, ConsoleTab>();
  private readonly byConsoleId = new Map<string, ConsoleTab>();
  /** Output pushed for a console whose attach reply has not arrived yet (the push can overtake it). */
  private readonly early = new Map<string, string[]>();
  private readonly tabBar = h('div', { class: 'tab-bar', 'data-testid': 'console-tabs' });
  private readonly panes = h('div', { class: 'panes' });
  private readonly searchBox = h('input', { class: 'search', placeholder: 'search (Enter)', 'data-testid': 'console-search' }) as HTMLInputElement;
  private active: string[] = [];
  private readonly splitButton = h('button', { class: 'small', title: 'show more consoles side by side: 1, 2, 3 or 4', 'data-testid': 'console-split' }, 'Split');
  /** Consoles shown at once (Split): 1 to MAX_PANES. */
  private panesShown = 1;
  private labRoot = '';
  /**
   * The consoles (keys) this browser tab wants open on this lab, in the order they were opened:
   * what is remembered for a reload. Kept apart from the tabs open right now, so that a restore that
   * has opened only some of them yet (reload, several machines becoming ready at once) never saves a
   * shorter list over the full one.
   */
  private wanted: string[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly api: VnetlabService,
    private readonly onError: (message: string) => void,
    /** The main window can pop a console out into a window of its own; that window cannot. */
    private readonly canPopOut = true,
  ) {
    const splitButton = this.splitButton;
    splitButton.addEventListener('click', () => this.split((this.panesShown % MAX_PANES) + 1));
    const popButton = h('button', { class: 'small', title: 'open this console in a window of its own', 'data-testid': 'console-pop-out' }, 'Pop out');
    popButton.addEventListener('click', () => {
      const machine = this.active[0];
      if (machine) this.popOut(machine);
    });
    this.searchBox.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.tabs.get(this.active[0] ?? '')?.search.findNext(this.searchBox.value, { caseSensitive: false });
      if (e.key === 'Escape') this.searchBox.blur();
    });
    root.append(h('div', { class: 'console-bar' }, this.tabBar, this.searchBox, splitButton, canPopOut ? popButton : null), this.panes);
    new ResizeObserver(() => this.fitAll()).observe(this.panes);
  }

  /** Called when another lab is opened: consoles of the previous one are detached (they keep running). */
  setLab(labRoot: string): void {
    for (const key of [...this.tabs.keys()]) this.close(key, false);
    this.labRoot = labRoot;
    this.wanted = this.remembered();
  }

  /**
   * Re-opens the consoles this browser tab had open on this lab (before a reload, or before the lab
   * stopped), and re-attaches those whose console ended. `running` says which machines run now.
   */
  async restore(running: (machine: string) => boolean = () => true): Promise<void> {
    for (const key of [...this.wanted]) {
      if (!running(parseConsoleKey(key).machine)) continue;
      const entry = this.tabs.get(key);
      if (!entry) await this.open(key, false);
      else if (entry.dead) await this.reattach(entry);
    }
  }

  /** The machine runs again (started, restarted): its console tabs, if dead, attach to its new consoles. */
  async revive(machine: string): Promise<void> {
    await Promise.all([...this.tabs.values()].filter((e) => e.machine === machine && e.dead).map((e) => this.reattach(e)));
  }

  /** "New console": the machine's next console that is not open here, in a tab of its own. */
  async openNext(machine: string): Promise<void> {
    for (let index = 1; index < MAX_MACHINE_CONSOLES; index++) {
      const key = consoleKey(machine, index);
      if (!this.tabs.has(key)) return this.open(key);
    }
    this.onError(`${machine} has ${MAX_MACHINE_CONSOLES} consoles open, the most a machine has: close one first.`);
  }

  /**
   * The machine's first `count` consoles (Kathará's num_terms, lab.yaml `consoles:`), opened where not
   * open yet, and shown side by side (as Kathará shows a window each).
   */
  async openFirst(machine: string, count: number): Promise<void> {
    const n = Math.min(count, MAX_MACHINE_CONSOLES);
    for (let index = n - 1; index >= 0; index--) {
      const key = consoleKey(machine, index);
      if (!this.tabs.has(key)) await this.open(key, false);
      else this.activate(key);
    }
    if (this.panesShown < Math.min(n, MAX_PANES)) this.split(Math.min(n, MAX_PANES));
  }

  private split(panes: number): void {
    this.panesShown = panes;
    this.splitButton.textContent = panes === 1 ? 'Split' : `Split: ${panes}`;
    this.layout();
  }

  /** The connection to the service was lost: every console id is void, all tabs wait to re-attach. */
  connectionLost(): void {
    for (const entry of this.tabs.values()) {
      this.markDead(entry, 'connection to the vnetlab server lost');
      entry.resetOnAttach = true;
    }
  }

  /** Consoles (keys: `pc1`, `pc1#2`) whose tab is open, dead or alive. */
  openMachines(): string[] {
    return [...this.tabs.keys()];
  }

  /** True when this console's tab (a key: `pc1`, `pc1#2`) shows a live console. */
  isLive(key: string): boolean {
    const entry = this.tabs.get(key);
    return !!entry && !entry.dead && !!entry.consoleId;
  }

  handlePush(message: PushMessage): void {
    if (message.kind === 'console-data') {
      const tab = this.byConsoleId.get(message.consoleId);
      if (tab) this.write(tab, message.data);
      else this.early.set(message.consoleId, [...(this.early.get(message.consoleId) ?? []), message.data].slice(-1000));
    } else if (message.kind === 'console-exit') {
      const tab = this.byConsoleId.get(message.consoleId);
      if (tab) this.markDead(tab, message.reason);
    }
  }

  private markDead(entry: ConsoleTab, reason: string): void {
    if (entry.dead) return;
    entry.dead = true;
    if (entry.consoleId) this.byConsoleId.delete(entry.consoleId);
    entry.consoleId = undefined;
    entry.tab.classList.add('dead');
    entry.tab.title = `console closed: ${reason}; it reconnects when ${entry.machine} runs again`;
    entry.term.write(`\r\n\x1b[2m[console closed: ${reason} — it reconnects when ${entry.machine} runs again]\x1b[0m\r\n`);
  }

  /** Opens a console: a key, `pc1` (the machine's own console) or `pc1#2` (its second). */
  async open(key: string, focus = true): Promise<void> {
    const { machine, index } = parseConsoleKey(key);
    const existing = this.tabs.get(key);
    if (existing) {
      this.activate(key);
      if (existing.dead) await this.reattach(existing);
      existing.term.focus();
      return;
    }
    const term = new Terminal({ fontFamily: 'monospace', fontSize: 13, scrollback: 5000, cursorBlink: true, convertEol: false });
    const fit = new FitAddon();
    const search = new SearchAddon();
    term.loadAddon(fit);
    term.loadAddon(search);
    const host = h('div', { class: 'term', 'data-machine': machine, 'data-console': String(index), 'data-testid': `console-${key}` });
    const close = h('span', { class: 'close', title: index ? 'close this tab (the console keeps running while the machine does)' : 'close this console (the machine keeps running)' }, '×');
    const tab = h('div', { class: 'tab', 'data-testid': `console-tab-${key}` }, index ? `${machine} (${index + 1})` : machine, close);
    const entry: ConsoleTab = { key, machine, index, term, fit, search, host, tab, ackPending: 0, written: 0, dead: true };
    tab.addEventListener('click', () => this.activate(key));
    tab.addEventListener('dblclick', () => this.activate(key));
    close.addEventListener('click', (e) => {
      e.stopPropagation();
      this.close(key, true);
    });
    this.tabs.set(key, entry);
    this.tabBar.append(tab);
    this.panes.append(host);
    term.open(host);
    this.wireClipboard(entry);
    // Input and size go to whichever console the tab is attached to now (it changes on re-attach).
    term.onData((data) => {
      if (entry.consoleId) void this.api.consoleInput(entry.consoleId, data).catch((err: Error) => this.onError(err.message));
      else if (entry.attaching) entry.typedWhileAttaching = (entry.typedWhileAttaching ?? '') + data;
    });
    term.onResize(({ cols, rows }) => {
      if (entry.consoleId) void this.api.consoleResize(entry.consoleId, cols, rows).catch(() => {});
    });
    this.activate(key);
    if (!this.wanted.includes(key)) this.wanted.push(key);
    this.remember();
    // Focused at once: what the student types right after the double-click is kept until the attach is done.
    if (focus) term.focus();
    await this.reattach(entry, false);
    if (focus) term.focus();
  }

  /** Attaches the tab's terminal to the machine's console (again): the replay shows what was missed. */
  private reattach(entry: ConsoleTab, again = true): Promise<void> {
    entry.attaching ??= (async () => {
      try {
        // Console 0 is asked for as before extra consoles existed (a server of then answers it).
        const attachment = await (entry.index ? this.api.attachConsole(this.labRoot, entry.machine, entry.index) : this.api.attachConsole(this.labRoot, entry.machine));
        if (this.tabs.get(entry.key) !== entry) {
          void this.api.detachConsole(attachment.consoleId).catch(() => {});
          return;
        }
        if (entry.resetOnAttach) entry.term.reset();
        else if (again) entry.term.write('\r\n\x1b[2m[console reconnected]\x1b[0m\r\n');
        entry.resetOnAttach = false;
        entry.consoleId = attachment.consoleId;
        entry.dead = false;
        entry.tab.classList.remove('dead');
        entry.tab.title = '';
        this.byConsoleId.set(attachment.consoleId, entry);
        if (attachment.replay) this.write(entry, attachment.replay);
        for (const data of this.early.get(attachment.consoleId) ?? []) this.write(entry, data);
        this.early.delete(attachment.consoleId);
        this.fitAll();
        void this.api.consoleResize(attachment.consoleId, entry.term.cols, entry.term.rows).catch(() => {});
        if (entry.typedWhileAttaching) void this.api.consoleInput(attachment.consoleId, entry.typedWhileAttaching).catch((err: Error) => this.onError(err.message));
      } catch (err) {
        entry.term.write(`\x1b[31mCannot open the console of ${entry.machine}: ${(err as Error).message}\x1b[0m\r\n`);
      } finally {
        entry.attaching = undefined;
        entry.typedWhileAttaching = undefined;
      }
    })();
    return entry.attaching;
  }

  close(key: string, forget: boolean): void {
    const entry = this.tabs.get(key);
    if (!entry) return;
    if (entry.consoleId) {
      this.byConsoleId.delete(entry.consoleId);
      void this.api.detachConsole(entry.consoleId).catch(() => {});
    }
    entry.term.dispose();
    entry.host.remove();
    entry.tab.remove();
    this.tabs.delete(key);
    this.active = this.active.filter((k) => k !== key);
    if (forget) {
      this.wanted = this.wanted.filter((k) => k !== key);
      this.remember();
    }
    this.layout();
  }

  /**
   * The console in a window of its own (console.html, same server, same session cookie): its tab here
   * closes, the window attaches as another viewer and replays what the console showed.
   */
  popOut(key: string): Window | null {
    const url = `console.html?lab=${encodeURIComponent(this.labRoot)}&machine=${encodeURIComponent(key)}`;
    const win = window.open(url, `vnetlab-console-${key.replace('#', '-')}`, 'popup,width=820,height=520');
    if (!win) {
      this.onError('The browser blocked the console window: allow pop-ups for this page.');
      return null;
    }
    this.close(key, true);
    return win;
  }

  /** Text currently in a console's buffer (tests and "copy all"). */
  bufferText(machine: string): string {
    const term = this.tabs.get(machine)?.term;
    if (!term) return '';
    const buf = term.buffer.active;
    const lines: string[] = [];
    // A line the terminal wrapped because the pane is narrow is one line of output.
    for (let i = 0; i < buf.length; i++) {
      const line = buf.getLine(i);
      const text = line?.translateToString(true) ?? '';
      if (line?.isWrapped && lines.length) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    return lines.join('\n');
  }

  /** The console's selected text (search selects its match). */
  selection(machine: string): string {
    return this.tabs.get(machine)?.term.getSelection() ?? '';
  }

  /** A console's size in the page (columns × rows), for tests. */
  size(key: string): { cols: number; rows: number } | undefined {
    const term = this.tabs.get(key)?.term;
    return term ? { cols: term.cols, rows: term.rows } : undefined;
  }

  /** Characters written into a console since it opened. */
  writtenChars(machine: string): number {
    return this.tabs.get(machine)?.written ?? 0;
  }

  private write(entry: ConsoleTab, data: string): void {
    entry.written += data.length;
    entry.term.write(data, () => {
      entry.ackPending += data.length;
      if (entry.ackPending >= CONSOLE_ACK_BATCH_CHARS) this.flushAck(entry);
      else entry.ackTimer ??= window.setTimeout(() => this.flushAck(entry), 20);
    });
  }

  private flushAck(entry: ConsoleTab): void {
    if (entry.ackTimer !== undefined) window.clearTimeout(entry.ackTimer);
    entry.ackTimer = undefined;
    const n = entry.ackPending;
    entry.ackPending = 0;
    if (n > 0 && entry.consoleId) void this.api.consoleAck(entry.consoleId, n).catch(() => {});
  }

  private wireClipboard(entry: ConsoleTab): void {
    // Ctrl+Shift+C / Ctrl+Shift+V copy and paste (plain Ctrl+C must still reach the guest as SIGINT).
    entry.term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === 'KeyC') {
        void navigator.clipboard?.writeText(entry.term.getSelection());
        return false;
      }
      if (e.code === 'KeyV') {
        void navigator.clipboard?.readText().then((t) => entry.term.paste(t));
        return false;
      }
      if (e.code === 'KeyF') {
        this.searchBox.focus();
        return false;
      }
      return true;
    });
  }

  private activate(key: string): void {
    this.active = [key, ...this.active.filter((k) => k !== key)];
    this.layout();
  }

  private layout(): void {
    const shown = this.active.slice(0, this.panesShown);
    for (const [key, entry] of this.tabs) {
      const visible = shown.includes(key);
      entry.host.style.display = visible ? 'block' : 'none';
      entry.host.style.order = String(shown.indexOf(key));
      entry.tab.classList.toggle('active', visible);
    }
    this.root.classList.toggle('has-consoles', this.tabs.size > 0);
    this.panes.classList.toggle('split', shown.length > 1);
    // Three or four consoles: two rows of two (the third spans the bottom row).
    this.panes.classList.toggle('grid', shown.length > 2);
    this.panes.classList.toggle('three', shown.length === 3);
    requestAnimationFrame(() => this.fitAll());
  }

  private fitAll(): void {
    for (const entry of this.tabs.values()) {
      if (entry.host.style.display === 'none' || entry.host.clientWidth === 0) continue;
      try {
        entry.fit.fit();
      } catch {
        // fitting a terminal that is being disposed: nothing to do
      }
    }
  }

  private storageKey(): string {
    return `vnetlab.consoles:${this.labRoot}`;
  }

  /** Keys as open() takes them: a list of `pc1`, `pc1#2` (a list of machine names, as kept before, reads the same). */
  private remembered(): string[] {
    try {
      const list: unknown = JSON.parse(sessionStorage.getItem(this.storageKey()) ?? '[]');
      return Array.isArray(list) ? list.filter((k): k is string => typeof k === 'string') : [];
    } catch {
      return [];
    }
  }

  private remember(): void {
    sessionStorage.setItem(this.storageKey(), JSON.stringify(this.wanted));
  }
}
