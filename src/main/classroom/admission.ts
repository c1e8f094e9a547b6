// Quotas and admission control. A lab's start reserves its machines and memory: refused at once when
// it would take the student past their quota, queued (first come, first served) when it would take
// the server past its capacity, so ten students pressing Start together wait in a visible line
// instead of all booting slowly. A reservation ends when the lab stops (by the student, the idle
// timer, a reset, or a failed start). A reservation is counted per running machine: a machine the
// student stops gives its share back, and starting a machine the lab's reservation does not hold
// (one stopped earlier, or one added to the lab file while it runs) is admitted like a small start.
import { UserError } from '../errors.ts';
import type { Quota } from './config.ts';
import type { LabRequirements } from './protocol.ts';

/** What one reservation holds: a machine by name, or `*` for a lab whose machines were not named. */
type Parts = Map<string, LabRequirements>;

interface Reservation extends LabRequirements {
  student: string;
  lab: string;
  since: number;
  parts: Parts;
}

interface Waiter extends Reservation {
  /** Set when the waiter is one machine of a lab (merged into the lab's reservation when admitted). */
  machine?: string;
  admitted(): void;
  cancelled(err: Error): void;
}

function partsOf(req: LabRequirements): Parts {
  const named = req.perMachine ? Object.entries(req.perMachine) : [];
  if (named.length && named.length === req.machines) return new Map(named.map(([name, memoryMb]) => [name, { machines: 1, memoryMb }]));
  return new Map([['*', { machines: req.machines, memoryMb: req.memoryMb }]]);
}

function total(parts: Parts): LabRequirements {
  let machines = 0;
  let memoryMb = 0;
  for (const p of parts.values()) {
    machines += p.machines;
    memoryMb += p.memoryMb;
  }
  return { machines, memoryMb };
}

const key = (student: string, lab: string) => `${student}\0${lab}`;

export class Admission {
  private readonly running = new Map<string, Reservation>();
  private queue: Waiter[] = [];
  /** Told whenever the queue changes, so waiting students see their position. */
  onChange?: () => void;

  constructor(
    readonly quota: Quota,
    readonly capacity: Quota,
  ) {}

  private used(student?: string): LabRequirements {
    let machines = 0;
    let memoryMb = 0;
    for (const r of this.running.values()) {
      if (student && r.student !== student) continue;
      machines += r.machines;
      memoryMb += r.memoryMb;
    }
    return { machines, memoryMb };
  }

  isRunning(student: string, lab: string): boolean {
    return this.running.has(key(student, lab));
  }

  /** 1-based position of a student's waiting start, or 0. */
  position(student: string, lab?: string): number {
    const i = this.queue.findIndex((w) => w.student === student && (lab === undefined || w.lab === lab));
    return i + 1;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** The machines a running lab's reservation holds by name (empty when it holds none by name). */
  machinesOf(student: string, lab: string): string[] {
    return [...(this.running.get(key(student, lab))?.parts.keys() ?? [])].filter((m) => m !== '*');
  }

  snapshot(): { running: Reservation[]; queue: { student: string; lab: string; since: number }[]; used: LabRequirements; capacity: Quota } {
    return { running: [...this.running.values()].map((r) => ({ ...r, parts: new Map(r.parts) })), queue: this.queue.map(({ student, lab, since }) => ({ student, lab, since })), used: this.used(), capacity: this.capacity };
  }

  /**
   * Resolves when the lab may start. Throws at once when the student's quota cannot hold it, or the
   * server could never hold it; `onWait(position)` is called while it waits.
   */
  async admit(student: string, lab: string, req: LabRequirements, onWait?: (position: number) => void, signal?: AbortSignal): Promise<void> {
    const k = key(student, lab);
    const previous = this.running.get(k);
    const parts = partsOf(req);
    this.checkQuota(student, previous ? total(previous.parts) : { machines: 0, memoryMb: 0 }, req, `this lab needs ${req.machines} machines and ${req.memoryMb} MiB`);
    if (req.machines > this.capacity.machines || req.memoryMb > this.capacity.memoryMb) throw new UserError('this lab is larger than the whole server can run', 2, 'ask your instructor');
    // Restarting or applying a lab that does not grow never waits behind others.
    const grows = !previous || req.machines > previous.machines || req.memoryMb > previous.memoryMb;
    // Growing a lab already running (apply, restart) takes effect at once if it fits, else waits like a start.
    if (previous) this.running.delete(k);
    await this.enter({ student, lab, ...req, since: Date.now(), parts }, grows, onWait, signal);
  }

  /**
   * Resolves when one machine of a running lab may start: at once when the lab's reservation already
   * holds it; otherwise it counts against the student's quota (refused at once) and the server's
   * capacity (waits in the queue) like a start of its own.
   */
  async admitMachine(student: string, lab: string, machine: string, memoryMb: number, onWait?: (position: number) => void, signal?: AbortSignal): Promise<boolean> {
    const held = this.running.get(key(student, lab));
    if (held && (held.parts.has(machine) || held.parts.has('*'))) return false;
    const req = { machines: 1, memoryMb };
    this.checkQuota(student, { machines: 0, memoryMb: 0 }, req, `starting ${machine} needs 1 machine and ${memoryMb} MiB`);
    if (req.memoryMb > this.capacity.memoryMb) throw new UserError('this machine is larger than the whole server can run', 2, 'ask your instructor');
    await this.enter({ student, lab, ...req, since: Date.now(), parts: new Map([[machine, req]]), machine }, true, onWait, signal);
    return true;
  }

  private checkQuota(student: string, freed: LabRequirements, req: LabRequirements, what: string): void {
    const mine = this.used(student);
    const after = { machines: mine.machines - freed.machines + req.machines, memoryMb: mine.memoryMb - freed.memoryMb + req.memoryMb };
    if (after.machines > this.quota.machines || after.memoryMb > this.quota.memoryMb) {
      throw new UserError(
        `quota reached: ${what}; your quota is ${this.quota.machines} machines and ${this.quota.memoryMb} MiB${mine.machines ? `, and your running labs use ${mine.machines} machines and ${mine.memoryMb} MiB` : ''}`,
        2,
        'stop another of your labs or machines first, or remove machines from this one',
      );
    }
  }

  /** Adds the parts to the lab's reservation (made if absent). */
  private hold(r: Reservation): void {
    const k = key(r.student, r.lab);
    const existing = this.running.get(k);
    if (!existing) {
      this.running.set(k, { student: r.student, lab: r.lab, since: r.since, parts: new Map(r.parts), ...total(r.parts) });
      return;
    }
    for (const [name, p] of r.parts) existing.parts.set(name, p);
    Object.assign(existing, total(existing.parts));
  }

  private async enter(reservation: Reservation & { machine?: string }, mayQueue: boolean, onWait?: (position: number) => void, signal?: AbortSignal): Promise<void> {
    const { student, lab, machine } = reservation;
    const fits = () => {
      const used = this.used();
      return used.machines + reservation.machines <= this.capacity.machines && used.memoryMb + reservation.memoryMb <= this.capacity.memoryMb;
    };
    if ((this.queue.length === 0 || !mayQueue) && fits()) {
      this.hold(reservation);
      return;
    }
    if (this.queue.some((w) => w.student === student && w.lab === lab && w.machine === machine)) throw new UserError(`this ${machine ? 'machine' : 'lab'} is already waiting in the queue`, 2, 'wait for it to start');
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ...reservation,
        admitted: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        cancelled: reject,
      };
      const onAbort = () => {
        this.queue = this.queue.filter((w) => w !== waiter);
        reject(new UserError('the start was cancelled while waiting in the queue'));
        this.advance();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.onChange?.();
      onWait?.(this.queue.length);
    });
  }

  /** One machine of a lab stopped: its share goes to the next in the queue. */
  releaseMachine(student: string, lab: string, machine: string): void {
    const k = key(student, lab);
    const r = this.running.get(k);
    if (!r || !r.parts.delete(machine)) return;
    if (r.parts.size === 0) this.running.delete(k);
    else Object.assign(r, total(r.parts));
    this.advance();
  }

  /** The lab stopped: its machines and memory go to the next in the queue. */
  release(student: string, lab: string): void {
    if (this.running.delete(key(student, lab))) this.advance();
  }

  /** Releases every reservation `stillRunning` says is not running any more (reconciliation with the workers). */
  reconcile(stillRunning: (student: string, lab: string) => boolean, graceMs = 0): void {
    let changed = false;
    for (const [k, r] of this.running) {
      if (Date.now() - r.since < graceMs) continue;
      if (!stillRunning(r.student, r.lab)) {
        this.running.delete(k);
        changed = true;
      }
    }
    if (changed) this.advance();
  }

  private advance(): void {
    while (this.queue.length) {
      const head = this.queue[0]!;
      const used = this.used();
      if (used.machines + head.machines > this.capacity.machines || used.memoryMb + head.memoryMb > this.capacity.memoryMb) break;
      this.queue.shift();
      this.hold({ ...head, since: Date.now() });
      head.admitted();
    }
    this.onChange?.();
  }
}
