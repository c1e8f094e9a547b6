// The network of a running lab: one switch per collision domain and one cable per machine interface
// (a port hub the guest NIC attaches to, plus a wirefilter from that port to the domain's switch; see
// CablePlan). It is a small controller: the wanted state (which cables are plugged where, with which
// impairments) is data, and reconcile() starts or ends processes until the running ones match it.
// So a switch that dies is started again and its cables re-joined, and the guests, attached to their
// own ports, never notice more than the lost frames. Switches may be cabled to each other (switch links,
// a wirefilter between a port of each); on a switch with VLANs or spanning tree every cable end is
// pinned to a port configured first over the switch's management socket (switch-mgmt.ts), and the
// spanning-tree state of those ports is read every few seconds so the canvas can show a blocked one.
// Why one file of ~560 lines: every method here changes the controller's private maps between
// reconcile passes, and splitting them would hand those maps out; what needs none of it lives beside
// it (state.ts: state and status; switch-ports.ts: VLAN/STP ports; capture.ts; wirefilter.ts).
import type { CableImpairments, CablePlan, Plan, PortVlans, SwitchLinkPlan, SwitchPlan } from '../../../shared/plan.ts';
import type { CableChange, CableStatus } from '../../../shared/runtime-api.ts';
import { normaliseImpairments, wirefilterArgv } from '../../compiler/cables.ts';
import { UserError } from '../../errors.ts';
import { describeExit, type DaemonHandle, type ExitInfo, type Launcher } from '../launcher.ts';
import type { ProcessBook } from '../process-book.ts';
import { startCapture, type Capture } from './capture.ts';
import { cableStatus, impairedBy, linkStatus, newCable, newLink, newSwitch, type CableState, type LinkState, type SwitchState } from './state.ts';
import { forgetPortConfig, portOf, readBlockedPorts, unpinPort } from './switch-ports.ts';
import { retryTransient, waitForConsole } from './switch-mgmt.ts';
import { impairmentCommands, wirefilterCommands } from './wirefilter.ts';
import { runBounded } from '../boot-slots.ts';

/** A switch that dies more often than this is left down (something is wrong with the host). */
const SWITCH_RESTARTS_PER_MINUTE = 5;
const STOP_GRACE_MS = 3_000;

/**
 * Cables whose port and wire start at once. Starting daemons is CPU work (ours and theirs): a few at a
 * time in boot order bring the first guests' cables up first, where all at once finished all together.
 */
const CABLES_AT_ONCE = 8;

/** How often the ports of switches with spanning tree are read (a blocked port shows on the canvas). */
const STP_POLL_MS = 2_000;

export type { CableChange, Capture };

/** `off` (set by a classroom configured with `host_nat: off`): host-NAT domains get no slirpvde. */
export const HOST_NAT_ENV = 'VNETLAB_HOST_NAT';

export class Network {
  private readonly switches = new Map<string, SwitchState>();
  private readonly cables = new Map<string, CableState>();
  private readonly links = new Map<string, LinkState>();
  private stpTimer: NodeJS.Timeout | undefined;
  private readonly captures = new Map<string, DaemonHandle>();
  private nextCapture = 1;
  /** Whether the network should run (between up() and down()). */
  private wanted = false;
  private reconciling: Promise<void> | undefined;
  private reconcileAgain = false;
  /** The pass under way (or the last one): its switches, each cable's port and wire, its switch links. */
  private pass: { switches: Promise<void>; cables: Map<string, Promise<void>>; links: Promise<void> } = { switches: Promise.resolve(), cables: new Map(), links: Promise.resolve() };
  /** Where each machine comes in the boot order (the plan's waves): cables come up in that order. */
  private readonly bootOrder: Map<string, number>;
  /**
   * The stdin every daemon holds open read-write (vde_switch and friends exit at EOF on stdin; a FIFO
   * nobody writes to never sends one, even after we die). One per lab: made once, not per daemon.
   */
  private readonly stdinFifo: string;
  /** The lab's network folders (switches, cable ports): all a daemon's sandbox may write to. */
  private readonly folders: string[];

  constructor(
    plan: Plan,
    private readonly launcher: Launcher,
    private readonly book: ProcessBook,
    private readonly notify: (message: string) => void,
    private readonly onCable: (status: CableStatus) => void = () => {},
  ) {
    this.stdinFifo = `${plan.runDir}/daemons.stdin`;
    this.folders = [`${plan.runDir}/sw`, `${plan.runDir}/c`];
    for (const s of plan.switches) this.switches.set(s.domain, newSwitch(s));
    for (const c of plan.cables) this.cables.set(c.id, newCable(c));
    for (const l of plan.switchLinks ?? []) this.links.set(l.id, newLink(l));
    this.bootOrder = new Map(plan.waves.flat().map((name, i) => [name, i]));
  }

  // ---- queries -------------------------------------------------------------------------------

  switchStatus(): { domain: string; pid?: number; running: boolean }[] {
    return [...this.switches.values()].map((s) => ({ domain: s.plan.domain, pid: s.proc?.pid, running: !!s.proc }));
  }

  cableStatus(): CableStatus[] {
    return [...[...this.cables.values()].map((c) => this.statusOf(c)), ...[...this.links.values()].map((l) => this.linkStatus(l))];
  }

  cable(id: string): CableStatus {
    const link = this.links.get(id);
    return link ? this.linkStatus(link) : this.statusOf(this.getCable(id));
  }

  cableIds(): string[] {
    return [...this.cables.keys(), ...this.links.keys()];
  }

  domains(): string[] {
    return [...this.switches.keys()];
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** Start every switch and cable; resolves once they all run (throws when a switch cannot start). */
  async up(): Promise<void> {
    this.wanted = true;
    await this.reconcile();
    this.watchSpanningTree();
    const down = [...this.switches.values()].filter((s) => !s.proc).map((s) => s.plan.domain);
    if (down.length) throw new Error(`the switch of collision domain ${down.join(', ')} did not start (see its log in the lab's run dir)`);
  }

  /** End everything: captures, wires, ports, then the switches. */
  async down(): Promise<void> {
    this.wanted = false;
    await this.reconciling;
    const ends: Promise<void>[] = [];
    for (const [id, proc] of this.captures) ends.push(this.end(proc, 'capture', id));
    this.captures.clear();
    await Promise.all(ends.splice(0));
    if (this.stpTimer) clearInterval(this.stpTimer);
    this.stpTimer = undefined;
    for (const c of this.cables.values()) {
      if (c.wire) ends.push(this.end(c.wire, 'wire', c.plan.id));
      c.wire = undefined;
    }
    for (const l of this.links.values()) {
      if (l.wire) ends.push(this.end(l.wire, 'wire', l.plan.id));
      l.wire = undefined;
    }
    await Promise.all(ends.splice(0));
    for (const c of this.cables.values()) {
      if (c.port) ends.push(this.end(c.port, 'port', c.plan.id));
      c.port = undefined;
      c.cut = false;
    }
    await Promise.all(ends.splice(0));
    for (const s of this.switches.values()) {
      if (s.hostNat) ends.push(this.end(s.hostNat, 'host-nat', s.plan.domain));
      if (s.proc) ends.push(this.end(s.proc, 'switch', s.plan.domain));
      s.hostNat = s.proc = undefined;
      s.restarts = [];
      s.givenUp = false;
      forgetPortConfig(s);
    }
    await Promise.all(ends);
  }

  /**
   * What a guest about to boot needs: its cables' ports and wires, and the links between switches, as
   * far as the pass under way brings them (a cable that failed has said so). A port that died since its
   * guest's last boot is started anew first: the old guest's NIC was attached to it.
   */
  async readyForGuest(machine: string): Promise<void> {
    let renewed = false;
    for (const c of this.cables.values()) {
      if (c.plan.machine !== machine || !c.cut) continue;
      const { wire, port } = c;
      c.wire = c.port = undefined;
      c.cut = false;
      renewed = true;
      if (wire) await this.end(wire, 'wire', c.plan.id);
      if (port) await this.end(port, 'port', c.plan.id);
    }
    if (renewed) await this.reconcile();
    const pass = this.pass;
    await Promise.all([pass.switches, pass.links, ...[...this.cables.values()].filter((c) => c.plan.machine === machine).map((c) => pass.cables.get(c.plan.id))]);
  }

  /**
   * The machine's cables that have no port after readyForGuest, and why: its kernel would boot without
   * those NICs (UML connects a NIC to its port at boot, and leaves it out when it cannot).
   */
  portlessCables(machine: string): { interface: string; error: string }[] {
    if (!this.wanted) return []; // the lab is stopping: that stop, not the port, is what the boot hears
    return [...this.cables.values()]
      .filter((c) => c.plan.machine === machine && !c.port && !c.cut)
      .map((c) => ({ interface: c.plan.interface, error: c.portError ?? 'its port did not start' }));
  }

  /** Settles once the pass under way has started (or given up on) every switch: see up() for a failed one. */
  switchesSettled(): Promise<void> {
    return this.pass.switches;
  }

  // ---- live changes --------------------------------------------------------------------------

  async change(id: string, change: CableChange): Promise<CableStatus> {
    const link = this.links.get(id);
    if (link) return this.changeLink(link, change);
    const c = this.getCable(id);
    if (change.domain !== undefined && !this.switches.has(change.domain)) {
      throw new UserError(`no collision domain '${change.domain}' in this lab`, 2, `domains: ${this.domains().join(', ')}`);
    }
    c.impairments = impairedBy(c.impairments, change);
    if (change.domain !== undefined) c.domain = change.domain;
    if (change.plugged !== undefined) c.plugged = change.plugged;
    const impairmentsChanged = change.reset || change.impair;
    await this.reconcile();
    // A wire that already ran keeps running: set its impairments live.
    if (impairmentsChanged && c.wire) await this.applyImpairments(c);
    const status = this.statusOf(c);
    this.onCable(status);
    return status;
  }

  /** A switch link: plugged or not, impaired; it cannot move (it joins the two switches it names). */
  private async changeLink(l: LinkState, change: CableChange): Promise<CableStatus> {
    if (change.domain !== undefined) throw new UserError(`${l.plan.id} joins two switches and cannot be moved`, 2, 'edit switch_links: in the lab file and apply it');
    l.impairments = impairedBy(l.impairments, change);
    if (change.plugged !== undefined) l.plugged = change.plugged;
    await this.reconcile();
    if ((change.reset || change.impair) && l.wire) await this.applyImpairments(l, l.plan.filterMgmt, l.plan.id);
    const status = this.linkStatus(l);
    this.onCable(status);
    return status;
  }

  /** The switch links of a new plan (a live `apply`): new ones are wired, removed ones end, changed ones are wired again. */
  async setSwitchLinks(plans: SwitchLinkPlan[]): Promise<void> {
    const wanted = new Map(plans.map((p) => [p.id, p]));
    for (const [id, l] of [...this.links]) {
      const next = wanted.get(id);
      if (next && JSON.stringify({ ...next, impairments: undefined }) === JSON.stringify({ ...l.plan, impairments: undefined })) {
        if (JSON.stringify(next.impairments) !== JSON.stringify(l.plan.impairments)) {
          l.impairments = normaliseImpairments(next.impairments);
          if (l.wire) await this.applyImpairments(l, l.plan.filterMgmt, id);
        }
        l.plan = next;
        continue;
      }
      this.links.delete(id);
      for (const d of l.plan.between) this.unpin(d, id);
      if (l.wire) await this.end(l.wire, 'wire', id);
      l.wire = undefined;
    }
    for (const p of plans) if (!this.links.has(p.id)) this.links.set(p.id, newLink(p));
    await this.reconcile();
    this.watchSpanningTree();
  }

  /** A cable's port VLANs changed (a live `apply`): its wire is ended and its port configured anew. */
  async setCableVlans(id: string, vlans: PortVlans | undefined): Promise<void> {
    const c = this.getCable(id);
    c.plan = { ...c.plan, ...(vlans ? { vlans } : {}) };
    if (!vlans) delete c.plan.vlans;
    this.unpin(c.domain, id);
    await this.endWire(c, id);
    await this.reconcile();
  }

  /** New collision domains (a live `apply`): their switches start at once. */
  async addSwitches(plans: SwitchPlan[]): Promise<void> {
    for (const p of plans) this.switches.set(p.domain, newSwitch(p));
    await this.reconcile();
    this.watchSpanningTree();
  }

  /** Domains no cable uses any more. */
  async removeSwitches(domains: string[]): Promise<void> {
    for (const domain of domains) {
      const s = this.switches.get(domain);
      if (!s) continue;
      this.switches.delete(domain);
      const { proc, hostNat } = s;
      s.proc = s.hostNat = undefined;
      if (hostNat) await this.end(hostNat, 'host-nat', domain);
      if (proc) await this.end(proc, 'switch', domain);
    }
  }

  /** Exactly these impairments (a lab file's `link:` changed). */
  async setImpairments(id: string, impairments: CableImpairments): Promise<void> {
    const c = this.getCable(id);
    c.impairments = normaliseImpairments(impairments);
    if (c.wire) await this.applyImpairments(c);
    this.onCable(this.statusOf(c));
  }

  /** Add cables (a live `apply`); they come up at the next reconcile. */
  async addCables(plans: CablePlan[]): Promise<void> {
    for (const p of plans) this.cables.set(p.id, newCable(p));
    await this.reconcile();
  }

  async removeCables(ids: string[]): Promise<void> {
    for (const id of ids) {
      const c = this.cables.get(id);
      if (!c) continue;
      this.cables.delete(id);
      const { wire, port } = c;
      c.wire = c.port = undefined;
      if (wire) await this.end(wire, 'wire', id);
      if (port) await this.end(port, 'port', id);
      for (const domain of new Set([c.plan.domain, c.domain])) this.unpin(domain, id);
    }
  }

  // ---- capture -------------------------------------------------------------------------------

  /**
   * Every frame on a cable (a vde_plug on its port hub) or in a collision domain (on a hub, a vde_plug
   * on it; a learning switch shows a port only what it sends there, so there we listen on the port of
   * every cable plugged into it and keep each frame once). `onFrame` must not block.
   */
  async capture(target: string, onFrame: (frame: Buffer, timeUs: number) => void, onEnd: (reason: string) => void): Promise<Capture> {
    const cable = this.cables.get(target);
    const sw = this.switches.get(target);
    if (!cable && !sw) {
      throw new UserError(`nothing named '${target}' to capture on`, 2, `cables: ${this.cableIds().join(', ')}; domains: ${this.domains().join(', ')}`);
    }
    if (cable ? !cable.port : !sw!.proc) throw new UserError(`${target} is not running`, 1, 'start the lab first');
    const taps = cable
      ? [cable.plan.portCtlDir]
      : sw!.plan.kind === 'hub'
        ? [sw!.plan.ctlDir]
        : [...this.cables.values()].filter((c) => c.port && c.plugged && c.domain === target).map((c) => c.plan.portCtlDir);
    const context = { launcher: this.launcher, book: this.book, stdinFifo: this.stdinFifo, folders: this.folders, running: this.captures, end: (p: DaemonHandle, name: string) => this.end(p, 'capture', name) };
    return startCapture(context, `cap${this.nextCapture++}`, target, taps, onFrame, onEnd);
  }

  // ---- the controller ------------------------------------------------------------------------

  /** Bring the running processes to the wanted state; concurrent calls share one pass (plus one more). */
  reconcile(): Promise<void> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      do {
        this.reconcileAgain = false;
        await this.reconcileOnce();
      } while (this.reconcileAgain);
    })().finally(() => (this.reconciling = undefined));
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    if (!this.wanted) return;
    // Cables come up a few at a time in the order their guests boot, and a guest boots as soon as its
    // own are up (readyForGuest): the first guests no longer wait for the whole network (at 500
    // guests, 1,050 daemons took 4–5 s to start). A cable's port is a switch of its own: it starts
    // beside the domains' switches, and only its wire waits for both.
    const switchesUp = Promise.all([...this.switches.values()].filter((s) => !s.proc && !s.givenUp).map((s) => this.startSwitch(s))).then(() => {});
    const linksUp = switchesUp.then(() =>
      Promise.all(
        [...this.links.values()].map(async (l) => {
          if (!this.wanted) return;
          const [a, b] = l.plan.between.map((d) => this.switches.get(d));
          const want = l.plugged && !!a?.proc && !!b?.proc;
          if (l.wire && !want) {
            await this.endWire(l, l.plan.id);
            this.onCable(this.linkStatus(l));
          }
          if (want && !l.wire) {
            await this.startLink(l, a!, b!);
            this.onCable(this.linkStatus(l));
          }
        }),
      ).then(() => {}),
    );
    const order = (c: CableState) => this.bootOrder.get(c.plan.machine) ?? Infinity;
    const cables = [...this.cables.values()].sort((a, b) => order(a) - order(b));
    const done = new Map(cables.map((c) => [c.plan.id, settler()]));
    this.pass = { switches: switchesUp, links: linksUp, cables: new Map([...done].map(([id, d]) => [id, d.settled])) };
    try {
      await runBounded(cables, CABLES_AT_ONCE, async (c) => {
        try {
          if (!this.wanted) return;
          if (!c.port && !c.cut) await this.startPort(c);
          await switchesUp;
          if (!this.wanted) return;
          const sw = this.switches.get(c.domain);
          const wantWire = c.plugged && !!c.port && !c.cut && !!sw?.proc;
          if (c.wire && (!wantWire || c.wireDomain !== c.domain)) {
            await this.endWire(c, c.plan.id);
            this.onCable(this.statusOf(c));
          }
          if (wantWire && !c.wire) {
            await this.startWire(c, sw!);
            this.onCable(this.statusOf(c));
          }
        } finally {
          done.get(c.plan.id)!.settle();
        }
      });
    } finally {
      for (const d of done.values()) d.settle();
    }
    await switchesUp;
    await linksUp;
  }

  private async startSwitch(s: SwitchState): Promise<void> {
    const plan = s.plan;
    const logFile = `${plan.ctlDir}.log`;
    const stdinFifo = this.stdinFifo;
    try {
      s.proc = await this.launcher.spawnDaemon(
        { what: `the switch of collision domain ${plan.domain}`, argv: plan.argv, logFile, stdinFifo, readyPath: `${plan.ctlDir}/ctl`, sockets: [plan.ctlDir, plan.mgmtSocket, logFile], folders: this.folders },
        this.book.register('switch', plan.domain),
      );
    } catch (err) {
      this.book.forget('switch', plan.domain);
      this.notify((err as Error).message);
      return;
    }
    const proc = s.proc;
    if (plan.ports) {
      // Its ports are configured over the management socket, which comes up after the control socket
      // (the daemon's readiness): the switch is up once it answers there too.
      try {
        await waitForConsole(plan.mgmtSocket, proc.exited);
      } catch (err) {
        s.proc = undefined;
        await this.end(proc, 'switch', plan.domain);
        this.notify(`the switch of collision domain ${plan.domain} did not answer on its management socket: ${(err as Error).message}`);
        return;
      }
    }
    forgetPortConfig(s);
    void proc.exited.then((exit) => this.onExit(() => s.proc === proc, () => (s.proc = undefined), 'switch', plan.domain, exit, () => this.switchDied(s)));
    if (plan.hostNat && process.env[HOST_NAT_ENV] === 'off') {
      this.notify(`host NAT is off on this server: collision domain ${plan.domain} is a plain switch, with no way out`);
    } else if (plan.hostNat) {
      const natLog = `${plan.ctlDir}.slirp.log`;
      const nat = await this.launcher.spawnDaemon(
        { what: `host NAT of collision domain ${plan.domain}`, argv: plan.hostNat.argv, logFile: natLog, sockets: [natLog], folders: this.folders, hostNat: true },
        this.book.register('host-nat', plan.domain),
      );
      s.hostNat = nat;
      void nat.exited.then((exit) => this.onExit(() => s.hostNat === nat, () => (s.hostNat = undefined), 'host-nat', plan.domain, exit));
    }
  }

  private switchDied(s: SwitchState): void {
    const now = Date.now();
    s.restarts = s.restarts.filter((t) => now - t < 60_000);
    if (s.restarts.length >= SWITCH_RESTARTS_PER_MINUTE) {
      s.givenUp = true;
      this.notify(`the switch of collision domain ${s.plan.domain} keeps dying; it stays down (restart the lab to try again)`);
      return;
    }
    s.restarts.push(now);
    this.notify(`restarting the switch of collision domain ${s.plan.domain} and re-joining its cables`);
    // Its wirefilters lost their far end: replace them once the new switch runs.
    for (const c of this.cables.values()) {
      if (c.wireDomain === s.plan.domain && c.wire) {
        void this.endWire(c, c.plan.id);
      }
    }
    for (const l of this.links.values()) {
      if (l.plan.between.includes(s.plan.domain) && l.wire) {
        void this.endWire(l, l.plan.id);
      }
    }
    forgetPortConfig(s);
    if (s.hostNat) {
      const nat = s.hostNat;
      s.hostNat = undefined;
      void this.end(nat, 'host-nat', s.plan.domain);
    }
  }

  private async startPort(c: CableState): Promise<void> {
    const dir = c.plan.portCtlDir;
    const logFile = `${dir}.log`;
    const stdinFifo = this.stdinFifo;
    try {
      c.port = await this.launcher.spawnDaemon(
        { what: `the port of cable ${c.plan.id}`, argv: c.plan.portArgv, logFile, stdinFifo, readyPath: `${dir}/ctl`, sockets: [dir, logFile], folders: this.folders },
        this.book.register('port', c.plan.id),
      );
    } catch (err) {
      this.book.forget('port', c.plan.id);
      c.portError = (err as Error).message;
      this.notify(c.portError);
      return;
    }
    c.portError = undefined;
    const proc = c.port;
    void proc.exited.then((exit) =>
      this.onExit(() => c.port === proc, () => (c.port = undefined), 'port', c.plan.id, exit, () => {
        // The guest's NIC was attached to this very hub: a new one would not reach it.
        c.cut = true;
        this.notify(`the port of cable ${c.plan.id} died (${describeExit(exit)}): ${c.plan.machine}'s ${c.plan.interface} is cut off until ${c.plan.machine} restarts (vnetlab restart ${c.plan.machine})`);
        this.onCable(this.statusOf(c));
      }),
    );
  }

  private async startWire(c: CableState, sw: SwitchState): Promise<void> {
    const logFile = `${c.plan.portCtlDir}.wf.log`;
    const stdinFifo = this.stdinFifo;
    let target: string;
    const proc = sw.proc;
    try {
      // Its own domain's port gets the cable's VLANs; moved elsewhere, it is a plain port there. A slow
      // or busy switch console is asked again, while the network is wanted and that switch still runs.
      target = await retryTransient(() => portOf(sw, c.plan.id, c.domain === c.plan.domain ? c.plan.vlans : undefined, true), () => this.wanted && sw.proc === proc);
    } catch (err) {
      this.notify(`cable ${c.plan.id}: ${(err as Error).message}`);
      return;
    }
    try {
      c.wire = await this.launcher.spawnDaemon(
        { what: `the wire of cable ${c.plan.id}`, argv: wirefilterArgv(c.plan, target), logFile, stdinFifo, readyPath: c.plan.filterMgmt, sockets: [c.plan.filterMgmt, logFile], folders: this.folders },
        this.book.register('wire', c.plan.id),
      );
    } catch (err) {
      this.book.forget('wire', c.plan.id);
      this.notify((err as Error).message);
      return;
    }
    c.wireDomain = c.domain;
    c.applied = {};
    const wire = c.wire;
    void wire.exited.then((exit) => this.onExit(() => c.wire === wire, () => (c.wire = undefined), 'wire', c.plan.id, exit));
    if (Object.keys(c.impairments).length) await this.applyImpairments(c);
  }

  private async applyImpairments(c: { impairments: CableImpairments; applied?: CableImpairments }, filterMgmt?: string, id?: string): Promise<void> {
    const mgmt = filterMgmt ?? (c as CableState).plan.filterMgmt;
    try {
      const wanted = c.impairments;
      await wirefilterCommands(mgmt, impairmentCommands(wanted, c.applied));
      c.applied = wanted;
    } catch (err) {
      throw new UserError(`could not set the impairments of ${id ?? (c as CableState).plan.id}: ${(err as Error).message}`, 3);
    }
  }

  // ---- switch links, VLANs, spanning tree ---------------------------------------------------------

  /** Forget a cable end's port on a switch (its link went, or its VLANs change): the port is removed. */
  private unpin(domain: string, key: string): void {
    unpinPort(this.switches.get(domain), key);
  }

  private async startLink(l: LinkState, a: SwitchState, b: SwitchState): Promise<void> {
    const logFile = `${l.plan.filterMgmt}.log`;
    let ends: string[];
    const [procA, procB] = [a.proc, b.proc];
    const keepTrying = () => this.wanted && a.proc === procA && b.proc === procB;
    try {
      // As a cable's port (startWire): a transient failure is tried again while both switches run.
      ends = [await retryTransient(() => portOf(a, l.plan.id, l.plan.vlans, false), keepTrying), await retryTransient(() => portOf(b, l.plan.id, l.plan.vlans, false), keepTrying)];
    } catch (err) {
      this.notify(`switch link ${l.plan.id}: ${(err as Error).message}`);
      return;
    }
    try {
      l.wire = await this.launcher.spawnDaemon(
        { what: `the switch link ${l.plan.id}`, argv: ['wirefilter', '-v', `${ends[0]}:${ends[1]}`, '-M', l.plan.filterMgmt], logFile, stdinFifo: this.stdinFifo, readyPath: l.plan.filterMgmt, sockets: [l.plan.filterMgmt, logFile], folders: this.folders },
        this.book.register('wire', l.plan.id),
      );
    } catch (err) {
      this.book.forget('wire', l.plan.id);
      this.notify((err as Error).message);
      return;
    }
    l.applied = {};
    const proc = l.wire;
    void proc.exited.then((exit) => this.onExit(() => l.wire === proc, () => (l.wire = undefined), 'wire', l.plan.id, exit));
    if (Object.keys(l.impairments).length) await this.applyImpairments(l, l.plan.filterMgmt, l.plan.id);
  }

  /**
   * While switches with spanning tree run, their ports' states are read every few seconds; a change of
   * which ports are blocked is pushed as the status of the cables and links on those ports.
   */
  private watchSpanningTree(): void {
    if (this.stpTimer || ![...this.switches.values()].some((s) => s.plan.ports?.stp)) return;
    let busy = false;
    this.stpTimer = setInterval(() => {
      if (busy || !this.wanted) return;
      busy = true;
      void this.readSpanningTree().finally(() => (busy = false));
    }, STP_POLL_MS);
    this.stpTimer.unref();
    void this.readSpanningTree();
  }

  /** Reads every STP switch's port states now; returns when done (tests call it to skip the wait). */
  async readSpanningTree(): Promise<void> {
    const running = [...this.switches.values()].filter((s) => s.plan.ports?.stp && s.proc);
    const changed = new Set((await Promise.all(running.map(readBlockedPorts))).flat());
    for (const key of changed) {
      const link = this.links.get(key);
      const cable = this.cables.get(key);
      if (link) this.onCable(this.linkStatus(link));
      else if (cable) this.onCable(this.statusOf(cable));
    }
  }

  private linkStatus(l: LinkState): CableStatus {
    return linkStatus(l, this.switches);
  }

  private statusOf(c: CableState): CableStatus {
    return cableStatus(c, this.switches);
  }

  /** An exit we did not ask for: forget it, say so, and let the controller put things right. */
  private onExit(isCurrent: () => boolean, clear: () => void, kind: 'switch' | 'host-nat' | 'port' | 'wire', name: string, exit: ExitInfo, then?: () => void): void {
    if (!isCurrent()) return; // we ended it on purpose (end() already cleared it)
    clear();
    this.book.forget(kind, name);
    if (!this.wanted) return;
    if (kind !== 'port') this.notify(`${kind === 'wire' ? 'the wire of cable' : kind === 'switch' ? 'the switch of collision domain' : 'host NAT of'} ${name} exited unexpectedly (${describeExit(exit)})`);
    then?.();
    void this.reconcile();
  }

  /** End a cable's or link's running wire, forgetting it first (its exit is then not a surprise). */
  private async endWire(holder: { wire?: DaemonHandle }, id: string): Promise<void> {
    const wire = holder.wire;
    holder.wire = undefined;
    if (wire) await this.end(wire, 'wire', id);
  }

  /** End a process we own: SIGTERM, then SIGKILL after a grace period; forget its record once it is gone. */
  private async end(proc: DaemonHandle, kind: 'switch' | 'host-nat' | 'port' | 'wire' | 'capture', name: string): Promise<void> {
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await proc.exited;
    clearTimeout(timer);
    this.book.forget(kind, name);
  }

  private getCable(id: string): CableState {
    const c = this.cables.get(id);
    if (!c) throw new UserError(`no cable '${id}' in this lab`, 2, `cables: ${this.cableIds().join(', ')}`);
    return c;
  }
}

function settler(): { settled: Promise<void>; settle: () => void } {
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  return { settled, settle };
}
