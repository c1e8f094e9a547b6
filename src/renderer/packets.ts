// The packet view: a live capture of one cable or collision domain, dissected by tshark in the service
// (packet list with Wireshark's columns, display filter, protocol tree, hex bytes), pause and save.
import type { PacketDetail, PacketSummary, PacketTreeNode, PushMessage, VnetlabService } from '../shared/service-api.ts';
import { $, h } from './dom.ts';
import './packets.css';

/** Rows kept in the list (the capture itself keeps more: filter or save to see them all). */
const MAX_ROWS = 5_000;
/**
 * The list draws only the rows in view (and OVERSCAN more each side), each ROW_PX high (packets.css), with
 * spacers for the rest: a flood of 1,000 frames/s costs the page the rows on screen, not a table of 5,000
 * laid out again ten times a second.
 */
const ROW_PX = 18;
const OVERSCAN = 15;

/** Who else follows the capture (the canvas's packet flow): its start, each batch of listed frames, its end. */
export interface CaptureObserver {
  started(target: string): void;
  frames(packets: PacketSummary[], reset: boolean): void;
  closed(): void;
}

export class PacketPane {
  private captureId = '';
  private target = '';
  private rows: PacketSummary[] = [];
  private paused = false;
  private held: PacketSummary[] = [];
  private selected = 0;
  /** Packets the list was sent since the capture (or its filter) started: counted while capturing. */
  private received = 0;
  private filtered = false;
  private stopped = false;
  private readonly root = $('packets');
  observer?: CaptureObserver;

  constructor(
    private readonly api: VnetlabService,
    private readonly labFolder: () => string,
    private readonly notify: (message: string, kind?: 'info' | 'error') => void,
  ) {
    this.root.hidden = true;
  }

  get open(): boolean {
    return !!this.captureId;
  }

  async start(target: string): Promise<void> {
    await this.close();
    const info = await this.api.startCapture(this.labFolder(), target);
    this.captureId = info.captureId;
    this.target = target;
    this.rows = [];
    this.held = [];
    this.paused = false;
    this.selected = 0;
    this.received = 0;
    this.filtered = false;
    this.stopped = false;
    this.render(info.dissectorMissing, info.wireshark);
    this.observer?.started(target);
  }

  /** Selects packet `number` in the list (scrolled into view) and shows its fields (a dot clicked on the canvas). */
  async showPacket(number: number): Promise<void> {
    const index = this.rows.findIndex((p) => p.number === number);
    const scroll = this.root.querySelector<HTMLElement>('.packet-scroll');
    if (index >= 0 && scroll && (index * ROW_PX < scroll.scrollTop || (index + 2) * ROW_PX > scroll.scrollTop + scroll.clientHeight)) {
      scroll.scrollTop = Math.max(0, index * ROW_PX - scroll.clientHeight / 2);
      this.renderRows();
    }
    await this.showDetail(number);
  }

  handlePush(message: PushMessage): void {
    if (message.kind === 'packets' && message.captureId === this.captureId) {
      if (message.reset) {
        this.rows = [];
        this.received = 0;
      }
      this.received += message.packets.length;
      if (!this.stopped) this.status(`capturing… ${this.received} ${this.received === 1 ? 'packet' : 'packets'}${this.filtered ? ' match the filter' : ''}${this.paused ? ' (list paused)' : ''}`);
      this.observer?.frames(message.packets, !!message.reset);
      if (this.paused && !message.reset) this.held.push(...message.packets);
      else if (message.reset) {
        this.rows.push(...message.packets);
        this.trimRows();
        this.scheduleRows();
      } else this.appendRows(message.packets);
    } else if (message.kind === 'capture-status' && message.captureId === this.captureId) {
      this.stopped = !message.running;
      const dropped = message.dropped ? `, ${message.dropped} dropped (the view could not keep up)` : '';
      this.status(`${message.running ? 'capturing' : 'stopped'}: ${message.frames} packets${dropped}${message.message ? ` — ${message.message}` : ''}`);
    }
  }

  async close(): Promise<void> {
    const id = this.captureId;
    this.captureId = '';
    this.root.hidden = true;
    if (id) this.observer?.closed();
    if (id) await this.api.closeCapture(id).catch(() => {});
  }

  private render(dissectorMissing: string | null, wireshark: boolean): void {
    const filter = h('input', { id: 'packet-filter', placeholder: 'display filter, e.g. arp or icmp or ospf', 'data-testid': 'packet-filter', spellcheck: 'false' }) as HTMLInputElement;
    filter.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      this.api.setCaptureFilter(this.captureId, filter.value).then(
        () => {
          filter.classList.remove('bad');
          this.filtered = filter.value.trim() !== '';
        },
        (err: Error) => {
          filter.classList.add('bad');
          this.notify(err.message, 'error');
        },
      );
    });
    const pause = h('button', { 'data-testid': 'packet-pause' }, 'Pause');
    pause.addEventListener('click', () => {
      this.paused = !this.paused;
      pause.textContent = this.paused ? 'Resume' : 'Pause';
      if (!this.paused) {
        const held = this.held;
        this.held = [];
        this.appendRows(held);
      }
    });
    const stop = h('button', { 'data-testid': 'packet-stop' }, 'Stop');
    stop.addEventListener('click', () => void this.api.stopCapture(this.captureId).catch((err: Error) => this.notify(err.message, 'error')));
    const save = h('button', { 'data-testid': 'packet-save' }, 'Save as pcap…');
    save.addEventListener('click', () => {
      const path = window.prompt('Save the capture as (a .pcap file in your home or the lab folder):', `~/${this.target.replace(/[^A-Za-z0-9_.-]/g, '_')}.pcap`);
      if (!path) return;
      this.api.saveCapture(this.captureId, path).then(
        (file) => this.notify(`Capture saved: ${file} (opens in Wireshark)`),
        (err: Error) => this.notify(err.message, 'error'),
      );
    });
    const inWireshark = h('button', { 'data-testid': 'packet-wireshark', title: 'Follow this capture live in Wireshark' }, 'Open in Wireshark');
    inWireshark.addEventListener('click', () => void this.api.openInWireshark(this.captureId).then(() => this.notify('Wireshark opened on this capture.'), (err: Error) => this.notify(err.message, 'error')));
    const close = h('button', { 'data-testid': 'packet-close' }, '×');
    close.addEventListener('click', () => void this.close());
    const columns = ['No.', 'Time', 'Source', 'Destination', 'Protocol', 'Length', 'Info'];
    const table = h('table', { class: 'packet-list', 'data-testid': 'packet-list' }, h('colgroup', {}, ...columns.map((c) => h('col', { class: `col-${c.replace('.', '').toLowerCase()}` }))), h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c)))), h('tbody', { id: 'packet-rows' }));
    const scroll = h('div', { class: 'packet-scroll' }, table);
    scroll.addEventListener('scroll', () => this.scheduleRows(), { passive: true });
    this.root.replaceChildren(
      h(
        'div',
        { class: 'packet-bar' },
        h('strong', {}, `Capture on ${this.target}`),
        filter,
        pause,
        stop,
        save,
        wireshark ? inWireshark : null,
        h('span', { id: 'packet-status', class: 'muted', 'data-testid': 'packet-status' }, 'capturing… 0 packets'),
        close,
      ),
      ...(dissectorMissing ? [h('div', { class: 'packet-warning', 'data-testid': 'packet-warning' }, dissectorMissing)] : []),
      h('div', { class: 'packet-body' }, scroll, h('div', { class: 'packet-detail', id: 'packet-detail', 'data-testid': 'packet-detail' }, h('p', { class: 'muted' }, 'Click a packet to see its fields.'))),
    );
    this.root.hidden = false;
    this.renderRows();
  }

  private rowsFrame = 0;

  /** The rows in view drawn at the next frame (once, however many batches or scroll events came). */
  private scheduleRows(): void {
    this.rowsFrame ||= requestAnimationFrame(() => {
      this.rowsFrame = 0;
      this.renderRows();
    });
  }

  private renderRows(): void {
    const body = document.getElementById('packet-rows');
    const scroll = this.root.querySelector<HTMLElement>('.packet-scroll');
    if (!body || !scroll) return;
    const first = Math.max(0, Math.min(this.rows.length, Math.floor(scroll.scrollTop / ROW_PX)) - OVERSCAN);
    const last = Math.min(this.rows.length, first + Math.ceil(scroll.clientHeight / ROW_PX) + 2 * OVERSCAN);
    const spacer = (rows: number) => (rows > 0 ? h('tr', { class: 'spacer', 'aria-hidden': 'true', style: `height:${rows * ROW_PX}px` }) : null);
    body.replaceChildren(...[spacer(first), ...this.rows.slice(first, last).map((p) => this.row(p)), spacer(this.rows.length - last)].filter((r): r is HTMLElement => !!r));
  }

  /** New rows go at the end and the oldest leave past MAX_ROWS. */
  private appendRows(packets: PacketSummary[]): void {
    this.rows.push(...packets);
    this.trimRows();
    this.scheduleRows();
  }

  /** Drops the oldest rows past MAX_ROWS; returns how many. */
  private trimRows(): number {
    const excess = Math.max(0, this.rows.length - MAX_ROWS);
    if (excess) this.rows.splice(0, excess);
    return excess;
  }

  private row(p: PacketSummary): HTMLElement {
    const tr = h('tr', { 'data-number': String(p.number), class: `${p.number === this.selected ? 'selected ' : ''}proto-${p.protocol.toLowerCase().replace(/[^a-z0-9]/g, '')}` }, h('td', {}, String(p.number)), h('td', {}, p.time.toFixed(6)), h('td', {}, p.source), h('td', {}, p.destination), h('td', {}, p.protocol), h('td', {}, String(p.length)), h('td', {}, p.info));
    tr.addEventListener('click', () => void this.showDetail(p.number));
    return tr;
  }

  private async showDetail(number: number): Promise<void> {
    this.selected = number;
    document.querySelectorAll('#packet-rows tr.selected').forEach((tr) => tr.classList.remove('selected'));
    document.querySelector(`#packet-rows tr[data-number="${number}"]`)?.classList.add('selected');
    let detail: PacketDetail;
    try {
      detail = await this.api.packetDetail(this.captureId, number);
    } catch (err) {
      this.notify((err as Error).message, 'error');
      return;
    }
    // The innermost protocol (the last layer) is what the student looks for: open it, keep the others closed.
    const tree = h('div', { class: 'packet-tree', 'data-testid': 'packet-tree' }, ...detail.tree.map((n, i) => treeNode(n, i === detail.tree.length - 1)));
    const hex = h('pre', { class: 'packet-hex', 'data-testid': 'packet-hex' }, hexDump(detail.hex));
    $('packet-detail').replaceChildren(tree, hex);
  }

  private status(text: string): void {
    const el = document.getElementById('packet-status');
    if (el) el.textContent = text;
  }
}

function treeNode(node: PacketTreeNode, open = false): HTMLElement {
  if (!node.children.length) return h('div', { class: 'leaf', title: node.field ?? '' }, node.label);
  const details = h('details', {}, h('summary', { title: node.field ?? '' }, node.label), ...node.children.map((c) => treeNode(c)));
  (details as HTMLDetailsElement).open = open;
  return details;
}

/** Offset, 16 bytes of hex, and the printable characters, as Wireshark shows them. */
export function hexDump(hex: string): string {
  const lines: string[] = [];
  for (let offset = 0; offset < hex.length / 2; offset += 16) {
    const bytes = hex.slice(offset * 2, offset * 2 + 32).match(/../g) ?? [];
    const ascii = bytes.map((b) => {
      const c = parseInt(b, 16);
      return c >= 32 && c < 127 ? String.fromCharCode(c) : '.';
    });
    lines.push(`${offset.toString(16).padStart(4, '0')}  ${bytes.join(' ').padEnd(47)}  ${ascii.join('')}`);
  }
  return lines.join('\n');
}
