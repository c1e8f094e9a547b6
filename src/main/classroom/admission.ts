// Quotas and admission control. A lab's start reserves its machines and memory: refused at once when
// it would take the student past their quota, queued (first come, first served) when it would take
// the server past its capacity, so ten students pressing Start together wait in a visible line
// instead of all booting slowly. A reservation ends when the lab stops (by the student, the idle
// timer, a reset, or a failed start).
import { UserError } from '../errors.ts';
import type { Quota } from './config.ts';
import type { LabRequirements } from './protocol.ts';

interface Reservation extends LabRequirements {
  student: string;
  lab: string;
  since: number;
}

interface Waiter extends Reservation {
  admitted(): void;
  cancelled(err: Error): void;
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

  snapshot(): { running: Reservation[]; queue: { student: string; lab: string; since: number }[]; used: LabRequirements; capacity: Quota } {
    return { running: [...this.running.values()], queue: this.queue.map(({ student, lab, since }) => ({ student, lab, since })), used: this.used(), capacity: this.capacity };
  }

  /**
   * Resolves when the lab may start. Throws at once when the student's quota cannot hold it, or the
   * server could never hold it; `onWait(position)` is called while it waits.
   */
  async admit(student: string, lab: string, req: LabRequirements, onWait?: (position: number) => void, signal?: AbortSignal): Promise<void> {
    const k = key(student, lab);
    const previous = this.running.get(k);
    const mine = this.used(student);
    const after = { machines: mine.machines - (previous?.machines ?? 0) + req.machines, memoryMb: mine.memoryMb - (previous?.memoryMb ?? 0) + req.memoryMb };
    if (after.machines > this.quota.machines || after.memoryMb > this.quota.memoryMb) {
      throw new UserError(
        `quota reached: this lab needs ${req.machines} machines and ${req.memoryMb} MiB; your quota is ${this.quota.machines} machines and ${this.quota.memoryMb} MiB${mine.machines ? `, and your running labs use ${mine.machines} machines and ${mine.memoryMb} MiB` : ''}`,
        2,
        'stop another of your labs first, or remove machines from this one',
      );
    }
    if (req.machines > this.capacity.machines || req.memoryMb > this.capacity.memoryMb) throw new UserError('this lab is larger than the whole server can run', 2, 'ask your instructor');
    if (previous) {
      // Growing a lab already running (apply, restart) takes effect at once if it fits, else waits like a start.
      this.running.delete(k);
    }
    const fits = () => {
      const used = this.used();
      return used.machines + req.machines <= this.capacity.machines && used.memoryMb + req.memoryMb <= this.capacity.memoryMb;
    };
    const reservation: Reservation = { student, lab, ...req, since: Date.now() };
    if (this.queue.length === 0 && fits()) {
      this.running.set(k, reservation);
      return;
    }
    if (this.queue.some((w) => w.student === student && w.lab === lab)) throw new UserError('this lab is already waiting in the queue', 2, 'wait for it to start');
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
      this.running.set(key(head.student, head.lab), { student: head.student, lab: head.lab, machines: head.machines, memoryMb: head.memoryMb, since: Date.now() });
      head.admitted();
    }
    this.onChange?.();
  }
}
