// Help (issue 23): the keyboard and mouse shortcuts on `?` (or the toolbar's ? button), and a first-run
// tour of three steps — open a lab, Start, open a console — that points at each in turn, moves on by
// itself when the user does the step, can be skipped, and is remembered in localStorage (once done or
// skipped it does not come back; the ? list can start it again).
import { h } from './dom.ts';
import './help.css';

export const TOUR_KEY = 'vnetlab.tour';

const SHORTCUTS: [string, string][] = [
  ['?', 'show or hide this list'],
  ['Ctrl+S / Ctrl+Shift+S', 'save / save as (also from a Properties field; in a console it goes to the guest)'],
  ['Ctrl+Z / Ctrl+Y (Ctrl+Shift+Z)', 'undo / redo'],
  ['Ctrl+C / Ctrl+V', 'copy / paste the selected machines'],
  ['Delete / Backspace', 'delete the selection (a running machine stops on Apply)'],
  ['Escape', 'close a menu or this list; back to the Select tool'],
  ['Double-click a machine', 'open its console'],
  ['Right-click', 'a machine: start, stop, restart, crash; a cable: unplug, impair, capture'],
  ['Right-click the empty canvas', 'add a note or a rectangle; export the drawing as SVG or PNG'],
  ['Consoles: Split, Pop out', 'up to four consoles at once; one in a window of its own'],
  ['Shift+drag on the canvas', 'select several elements'],
  ['In a console: Ctrl+Shift+C / Ctrl+Shift+V', 'copy / paste'],
  ['In a console: Ctrl+Shift+F', 'search its output'],
  ['Packet flow: Pause, Step', 'hold the dots, move them one cable on; click a dot for its frame'],
];

interface TourStep {
  title: string;
  text: string;
  /** What the step points at. */
  target: () => HTMLElement | null;
  /** The user did the step themselves: the tour moves on. */
  done: () => boolean;
}

export interface HelpHooks {
  /** The lab is running (Start was pressed and it came up). */
  running(): boolean;
  /** A console is open. */
  consoleOpen(): boolean;
}

export class Help {
  private readonly list: HTMLElement;
  private readonly card = h('div', { class: 'tour-card', 'data-testid': 'tour', role: 'dialog', 'aria-label': 'first steps', hidden: '' });
  private readonly steps: TourStep[];
  private step = -1;
  private pointed: HTMLElement | null = null;
  private watch = 0;

  constructor(private readonly hooks: HelpHooks) {
    const close = h('button', { class: 'small', 'data-testid': 'shortcuts-close' }, 'Close');
    const tour = h('button', { class: 'small', 'data-testid': 'tour-again' }, 'Show the first steps again');
    this.list = h(
      'div',
      { class: 'shortcuts', 'data-testid': 'shortcuts', role: 'dialog', 'aria-label': 'keyboard shortcuts', hidden: '' },
      h('h3', {}, 'Shortcuts'),
      h('table', {}, h('tbody', {}, ...SHORTCUTS.map(([keys, what]) => h('tr', {}, h('td', {}, h('kbd', {}, keys)), h('td', {}, what))))),
      h('div', { class: 'row right' }, tour, close),
    );
    close.addEventListener('click', () => this.toggleList(false));
    tour.addEventListener('click', () => {
      this.toggleList(false);
      this.startTour();
    });
    document.body.append(this.list, this.card);
    document.addEventListener('keydown', (e) => {
      const el = e.target as HTMLElement | null;
      const typing = !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || !!el.closest('.term'));
      if (e.key === '?' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        this.toggleList();
      } else if (e.key === 'Escape' && !this.list.hidden) this.toggleList(false);
    });
    this.steps = [
      { title: 'Open a lab', text: 'Open… reads a lab.yaml or a Netkit/Kathará folder; the Lab panel on the right has its instructions. A lab is open already: you can go on with it.', target: () => document.getElementById('open'), done: () => this.hooks.running() },
      { title: 'Start it', text: 'Start boots its machines (a few seconds each). Their borders turn green when they are ready.', target: () => document.getElementById('start'), done: () => this.hooks.running() },
      { title: 'Open a console', text: 'Double-click a machine to open its console, and type commands into it (ip address, ping…). Press ? at any time for the shortcuts.', target: () => document.getElementById('canvas'), done: () => this.hooks.consoleOpen() },
    ];
  }

  toggleList(show = this.list.hidden): void {
    this.list.hidden = !show;
    if (show) this.list.querySelector('button')?.focus();
  }

  /** The tour on the first visit only (nothing in localStorage yet). */
  maybeStartTour(): void {
    let seen: string | null = 'unavailable';
    try {
      seen = localStorage.getItem(TOUR_KEY);
    } catch {
      // storage off: no tour rather than one that comes back on every visit
    }
    if (seen === null) this.startTour();
  }

  startTour(): void {
    this.show(0);
    window.clearInterval(this.watch);
    // The user may do the step rather than read it: look twice a second.
    this.watch = window.setInterval(() => {
      // An exam is no time for a tour (and hides what it points at): it goes, unremembered.
      if (document.body.classList.contains('exam-mode')) return this.endTour(undefined);
      const s = this.steps[this.step];
      if (s?.done()) this.show(this.step + 1);
    }, 500);
  }

  private show(index: number): void {
    this.pointed?.classList.remove('tour-target');
    this.pointed = null;
    if (index >= this.steps.length) return this.endTour('done');
    this.step = index;
    const s = this.steps[index]!;
    // A step whose button is not there (hidden in this mode) is passed over.
    const target = s.target();
    if (!target || target.offsetParent === null) return this.show(index + 1);
    const next = h('button', { class: 'go small', 'data-testid': 'tour-next' }, index === this.steps.length - 1 ? 'Done' : 'Next');
    const skip = h('button', { class: 'small', 'data-testid': 'tour-skip' }, 'Skip the tour');
    next.addEventListener('click', () => this.show(this.step + 1));
    skip.addEventListener('click', () => this.endTour('skipped'));
    this.card.replaceChildren(
      h('div', { class: 'tour-step muted small', 'data-testid': 'tour-step' }, `Step ${index + 1} of ${this.steps.length}`),
      h('h3', {}, s.title),
      h('p', {}, s.text),
      h('div', { class: 'row right' }, skip, next),
    );
    this.card.hidden = false;
    this.pointed = target;
    this.pointed.classList.add('tour-target');
    this.place();
  }

  /** The card sits below its target, kept inside the window. */
  private place(): void {
    const r = this.pointed?.getBoundingClientRect();
    const width = this.card.offsetWidth || 300;
    const height = this.card.offsetHeight || 150;
    let left = r ? r.left : 12;
    let top = r ? (r.height > 200 ? r.top + 12 : r.bottom + 10) : 60;
    left = Math.max(8, Math.min(left, window.innerWidth - width - 8));
    top = Math.max(8, Math.min(top, window.innerHeight - height - 8));
    this.card.style.left = `${left}px`;
    this.card.style.top = `${top}px`;
  }

  private endTour(how: 'done' | 'skipped' | undefined): void {
    window.clearInterval(this.watch);
    this.pointed?.classList.remove('tour-target');
    this.pointed = null;
    this.card.hidden = true;
    this.step = -1;
    if (!how) return;
    try {
      localStorage.setItem(TOUR_KEY, how);
    } catch {
      // nothing to remember it in
    }
  }
}
