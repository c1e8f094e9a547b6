// Watch packets move (issue 23): while a capture runs, each listed frame is a dot that travels along the
// cables it crosses on the canvas (packet-routes.ts), coloured by protocol, with pause and step; a click
// on a dot opens that frame in the packet view. Above what the eye can follow (RELEASE_PER_S) frames
// are sampled, 1 in N, and the bar says so. The page's cost does not grow with the frame rate: arriving
// frames are only counted and sampled into a bounded queue, one requestAnimationFrame loop draws a
// bounded pool of dots (elements moved by a CSS transform: the compositor moves them, nothing big is
// painted again each frame), and it stops when nothing moves.
import type { Core } from 'cytoscape';
import type { LabModel } from '../shared/lab-model.ts';
import type { PacketSummary, VnetlabService } from '../shared/service-api.ts';
import { h } from './dom.ts';
import type { CaptureObserver } from './packets.ts';
import { PacketRoutes, type Hop, type NicMac } from './packet-routes.ts';
import './packet-flow.css';

/** Time a dot takes to cross one cable. */
const HOP_MS = 500;
/** Frames set moving per second at most: above this rate, 1 in N is shown. */
const RELEASE_PER_S = 10;
/** Frames per second are counted over this long. */
const RATE_WINDOW_MS = 2000;
/** Dots on the canvas at most (a broadcast is one dot per receiver). */
const MAX_DOTS = 48;
/** Sampled frames waiting for their turn (while paused, or in a burst) at most. */
const MAX_QUEUE = 32;
const DOT_RADIUS = 6;

/** Protocol families and their colours (the legend shows them in this order). */
const FAMILIES: { name: string; colour: string; test: RegExp }[] = [
  { name: 'ICMP', colour: '#e8590c', test: /^ICMP/i },
  { name: 'ARP', colour: '#f59f00', test: /^ARP|^RARP/i },
  { name: 'TCP', colour: '#1c7ed6', test: /^(TCP|HTTP|TLS|SSL|SSH|TELNET|FTP|SMTP|POP|IMAP|BGP)/i },
  { name: 'UDP', colour: '#7048e8', test: /^(UDP|DNS|MDNS|DHCP|BOOTP|NTP|SNMP|TFTP|SYSLOG|QUIC)/i },
  { name: 'routing', colour: '#2f9e44', test: /^(OSPF|RIP|EIGRP|VRRP|IGMP|PIM|IS-IS)/i },
  { name: 'other', colour: '#868e96', test: /./ },
];

export const familyOf = (protocol: string) => FAMILIES.find((f) => f.test.test(protocol)) ?? FAMILIES[FAMILIES.length - 1]!;

/** 1 in N, N on a 1-2-5 scale (stable on screen while the rate wobbles). */
export function sampleEvery(framesPerSecond: number, releasePerSecond = RELEASE_PER_S): number {
  const need = framesPerSecond / releasePerSecond;
  if (need <= 1) return 1;
  for (let decade = 1; ; decade *= 10) for (const step of [1, 2, 5]) if (step * decade >= need) return step * decade;
}

interface Frame {
  number: number;
  colour: string;
  tracks: Hop[][];
}

interface Dot {
  number: number;
  colour: string;
  hops: Hop[];
  /** Animation clock (ms) when it left its sender. */
  start: number;
  x: number;
  y: number;
}

export class PacketFlow implements CaptureObserver {
  private readonly overlay = h('div', { class: 'flow-overlay', 'data-testid': 'flow-overlay' });
  /** The dots' elements, made as needed up to MAX_DOTS and reused. */
  private readonly pool: HTMLElement[] = [];
  private readonly rateText = h('span', { class: 'flow-rate', 'data-testid': 'flow-rate' }, '');
  private readonly pauseButton = h('button', { class: 'small', 'data-testid': 'flow-pause', title: 'hold the dots where they are (the capture goes on)' }, 'Pause');
  private readonly stepButton = h('button', { class: 'small', 'data-testid': 'flow-step', title: 'move the dots one cable on, or bring in the next frame' }, 'Step');
  private readonly bar: HTMLElement;
  private routes: PacketRoutes | undefined;
  private target = '';
  private generation = 0;
  private dots: Dot[] = [];
  private queue: Frame[] = [];
  private paused = false;
  /** The animation's own clock: it stands still while paused. */
  private clock = 0;
  private lastNow = 0;
  private lastRelease = -Infinity;
  private raf = 0;
  /** Frames listed in the last RATE_WINDOW_MS: (time, count) per batch. */
  private arrivals: { t: number; n: number }[] = [];
  private every = 1;
  private seen = 0;
  private selected = 0;
  /** Animation frames drawn (the UI bench reads their rate). */
  drawn = 0;

  constructor(
    private readonly cy: Core,
    private readonly host: HTMLElement,
    private readonly api: VnetlabService,
    private readonly lab: () => { folder: string; model: LabModel },
    private readonly openFrame: (number: number) => void,
  ) {
    this.bar = h(
      'div',
      { class: 'flow-bar', 'data-testid': 'flow-bar', hidden: '' },
      h('span', { class: 'flow-legend' }, ...FAMILIES.map((f) => h('span', { class: 'flow-key' }, h('i', { style: `background:${f.colour}` }), f.name))),
      this.pauseButton,
      this.stepButton,
      this.rateText,
    );
    host.append(this.overlay, this.bar);
    this.pauseButton.addEventListener('click', () => this.setPaused(!this.paused));
    this.stepButton.addEventListener('click', () => this.step());
    // A dot is clicked before cytoscape sees the click (capture phase): it opens that frame.
    host.addEventListener('pointerdown', (e) => {
      if ((e.target as HTMLElement).closest('.flow-bar, .note, .area-tab')) return;
      const dot = this.dotAt(e);
      if (!dot) return;
      e.stopPropagation();
      e.preventDefault();
      this.selected = dot.number;
      this.draw();
      this.openFrame(dot.number);
    }, true);
    this.cy.on('viewport resize', () => this.kick());
  }

  started(target: string): void {
    const generation = ++this.generation;
    this.reset();
    this.target = target;
    this.bar.hidden = false;
    this.rateText.textContent = 'waiting for frames…';
    const { folder, model } = this.lab();
    // The running machines' MACs say whose cable a frame leaves from.
    void this.api.status(folder).then((status) => {
      if (generation !== this.generation) return;
      const nics: NicMac[] = (status?.machines ?? []).flatMap((m) => m.interfaces.map((i) => ({ machine: m.name, name: i.name, domain: i.domain, mac: i.mac })));
      this.routes = new PacketRoutes(model, nics, target);
    }, () => {});
  }

  frames(packets: PacketSummary[], reset: boolean): void {
    if (!this.target) return;
    if (reset) {
      this.queue = [];
      this.dots = [];
    }
    const now = performance.now();
    this.arrivals.push({ t: now, n: packets.length });
    // The rate over the last RATE_WINDOW_MS: a burst (a machine's first ARP and ICMPv6 frames) is not a flood.
    while (this.arrivals.length && this.arrivals[0]!.t <= now - RATE_WINDOW_MS) this.arrivals.shift();
    this.every = sampleEvery((this.arrivals.reduce((a, b) => a + b.n, 0) * 1000) / RATE_WINDOW_MS);
    for (const p of packets) {
      if (this.seen++ % this.every !== 0 || this.queue.length >= MAX_QUEUE) continue;
      const tracks = this.routes?.tracks(p.ethSrc, p.ethDst) ?? [];
      if (tracks.length) this.queue.push({ number: p.number, colour: familyOf(p.protocol).colour, tracks });
    }
    this.showRate();
    this.kick();
  }

  closed(): void {
    this.generation++;
    this.reset();
    this.target = '';
    this.bar.hidden = true;
    this.draw();
  }

  /** For tests and the UI bench: the dots on screen (page coordinates) and the sampling. */
  snapshot(): { dots: { number: number; x: number; y: number; colour: string }[]; every: number; paused: boolean; queued: number; drawn: number; frames: number } {
    const r = this.host.getBoundingClientRect();
    return { dots: this.dots.map((d) => ({ number: d.number, x: r.left + d.x, y: r.top + d.y, colour: d.colour })), every: this.every, paused: this.paused, queued: this.queue.length, drawn: this.drawn, frames: this.seen };
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    this.pauseButton.textContent = paused ? 'Resume' : 'Pause';
    this.pauseButton.classList.toggle('active', paused);
    this.showRate();
    this.kick();
  }

  /** One cable on for every dot; with no dot on its way, the next waiting frame leaves its sender. */
  step(): void {
    if (!this.paused) this.setPaused(true);
    if (this.dots.length) {
      this.clock += HOP_MS;
      this.retire();
    }
    if (!this.dots.length) this.release();
    this.draw();
  }

  private reset(): void {
    this.routes = undefined;
    this.dots = [];
    this.queue = [];
    this.arrivals = [];
    this.every = 1;
    this.seen = 0;
    this.selected = 0;
    this.setPaused(false);
  }

  private showRate(): void {
    const sampling = this.every > 1 ? `showing 1 in ${this.every} frames` : 'showing every frame';
    this.rateText.textContent = this.paused ? `${sampling} · paused${this.queue.length ? `, ${this.queue.length} waiting` : ''}` : sampling;
  }

  /** Starts the animation loop if it is not running (it stops itself when nothing moves). */
  private kick(): void {
    if (this.raf) return;
    this.lastNow = performance.now();
    this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  private tick(now: number): void {
    this.raf = 0;
    if (!this.paused) {
      this.clock += Math.min(100, now - this.lastNow); // a hidden tab does not jump every dot to its end
      if (this.queue.length && now - this.lastRelease >= 1000 / RELEASE_PER_S) {
        this.lastRelease = now;
        this.release();
      }
      this.retire();
    }
    this.lastNow = now;
    this.draw();
    // Paused, nothing moves: pan, zoom and Step draw again on their own.
    if (!this.paused && (this.dots.length || this.queue.length)) this.raf = requestAnimationFrame((t) => this.tick(t));
  }

  /** The next waiting frame leaves its sender: one dot per track, while the pool has room. */
  private release(): void {
    const frame = this.queue.shift();
    if (!frame) return;
    for (const hops of frame.tracks) {
      if (this.dots.length >= MAX_DOTS) break;
      this.dots.push({ number: frame.number, colour: frame.colour, hops, start: this.clock, x: -99, y: -99 });
    }
    this.showRate();
  }

  /** Dots past their last cable leave the pool. */
  private retire(): void {
    this.dots = this.dots.filter((d) => this.clock - d.start <= d.hops.length * HOP_MS);
  }

  private draw(): void {
    this.drawn++;
    const at = new Map<string, { x: number; y: number }>();
    const point = (id: string) => {
      let p = at.get(id);
      if (!p) {
        const node = this.cy.getElementById(id);
        p = node.nonempty() ? node.renderedPosition() : { x: -99, y: -99 };
        at.set(id, p);
      }
      return p;
    };
    this.dots.forEach((d, i) => {
      const progress = Math.max(0, this.clock - d.start) / HOP_MS;
      const index = Math.min(d.hops.length - 1, Math.floor(progress));
      const hop = d.hops[index]!;
      const f = Math.min(1, progress - index);
      const a = point(hop.from);
      const b = point(hop.to);
      d.x = a.x + (b.x - a.x) * f;
      d.y = a.y + (b.y - a.y) * f;
      let el = this.pool[i];
      if (!el) {
        el = h('i', { class: 'flow-dot' });
        this.pool.push(el);
        this.overlay.append(el);
      }
      el.style.transform = `translate(${(d.x - DOT_RADIUS).toFixed(1)}px, ${(d.y - DOT_RADIUS).toFixed(1)}px)`;
      if (el.dataset.colour !== d.colour) {
        el.dataset.colour = d.colour;
        el.style.background = d.colour;
      }
      el.classList.toggle('selected', d.number === this.selected);
      el.hidden = false;
    });
    for (let i = this.dots.length; i < this.pool.length && !this.pool[i]!.hidden; i++) this.pool[i]!.hidden = true;
  }

  private dotAt(e: PointerEvent): Dot | undefined {
    if (!this.dots.length || e.button !== 0) return undefined;
    const r = this.host.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    let best: Dot | undefined;
    let bestDistance = (DOT_RADIUS + 4) ** 2;
    for (const d of this.dots) {
      const distance = (d.x - x) ** 2 + (d.y - y) ** 2;
      if (distance <= bestDistance) {
        best = d;
        bestDistance = distance;
      }
    }
    return best;
  }
}
