// The warm pool: keeps N booted guests per image waiting for a lab (issue 12). A guest boots as far as
// it can without knowing which machine it will be (kernel, root filesystem, kernel filesystems, the
// IPv6 module), then its agent waits; a lab's supervisor claims it, moves its files into the lab, hot-
// plugs the lab-fs and NICs and tells it its name (pooled-guest.ts). The pool boots replacements
// once claims have been quiet for a second (the lab that just started gets the CPU first), at most
// one per core at a time.
//
// Every pooled guest is recorded in `<pool>/records/` before it runs (records.ts), so `vnetlab clean
// --all` ends them even after the pool was killed; and a guest whose pool died powers itself off.
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { findKernel } from '../../images/kernel.ts';
import type { HostPaths } from '../../paths.ts';
import { groupRssBytes } from '../proc-memory.ts';
import { removeRecord, trySignal, writeRecord } from '../records.ts';
import { hostTmpfs } from '../host-tmpfs.ts';
import { confinementFor, pooledGuestLaunch, type Confinement } from '../confinement.ts';
import { pooledGuestArgv } from '../guest-argv.ts';
import { poolDiskDir, poolFiles, poolKey } from './pool-files.ts';
import { spawnPooledGuest, type BootingGuest } from './pooled-guest.ts';
import type { PooledGuest, PoolImageStatus, PoolStatus, PoolTarget } from './protocol.ts';

/** A claimed guest not taken within this long is ended (its lab's supervisor died mid-way). */
const CLAIM_TIMEOUT_MS = 20_000;
/** Refilling waits until no claim came for this long: a lab that is starting gets the CPU first. */
const REFILL_QUIET_MS = 1_000;
/** Guests booted at once while refilling: one per core, so that a busy grader's pool keeps up. */
const REFILL_PARALLEL = Math.max(1, availableParallelism());
const REFILL_BACKOFF_MS = 10_000;
/** Placement (`umid`, `uml_dir`, `ubd0`), devices (the lab-fs, NICs in either syntax) and identity (`vnl_*`): never shared. */
const NOT_SHARED = /^(umid=|uml_dir=|ubd\d+r?=|eth\d+=|vec\d+:|vnl_(name|vec)=)/;

interface Entry {
  key: string;
  booting: BootingGuest;
  /** `ending`: killed, not yet reaped; never handed out nor counted. */
  state: 'booting' | 'ready' | 'claimed' | 'ending';
  claimTimer?: NodeJS.Timeout;
  /** Who claimed it: ended with them if they go before `taken`. */
  claimedBy?: object;
}

export class GuestPool {
  private readonly targets = new Map<string, PoolTarget>();
  private readonly entries = new Map<string, Entry>();
  private nextId = 1;
  private claimed = 0;
  private lastClaimAt = 0;
  private refillTimer: NodeJS.Timeout | undefined;
  private refilling = 0;
  /** After a failed boot, no refill before this (ms since the epoch). */
  private backoffUntil = 0;
  private closing = false;

  constructor(
    private readonly dir: string,
    private readonly paths: HostPaths,
    private readonly log: (message: string) => void,
    /** The sandbox its guests boot in (src/main/runtime/confinement.ts). */
    private readonly confinement: Confinement = confinementFor(),
  ) {}

  /** Set how many guests of each image to keep; boots what is missing, all at once (the user waits). */
  async up(targets: PoolTarget[], options: { only?: boolean } = {}): Promise<void> {
    for (const target of targets) this.checkTarget(target);
    const keyed = targets.map((target) => [poolKey(target.shared, target.imagePath), target] as const);
    if (options.only) {
      const wanted = new Set(keyed.map(([key]) => key));
      for (const key of [...this.targets.keys()]) if (!wanted.has(key)) this.dropKey(key);
    }
    for (const [key, target] of keyed) {
      this.targets.set(key, target);
      // Guests of an image that was rebuilt since (same arguments, another key) are of no use any more.
      const same = (other: PoolTarget) => other.imagePath === target.imagePath && JSON.stringify(other.shared) === JSON.stringify(target.shared);
      for (const [otherKey, other] of this.targets) if (otherKey !== key && same(other)) this.dropKey(otherKey);
    }
    const boots: Promise<unknown>[] = [];
    for (const [key, target] of this.targets) {
      const missing = target.size - this.count(key, ['booting', 'ready']);
      for (let i = 0; i < missing; i++) boots.push(this.boot(key, target).catch(() => {}));
      // A smaller size: the extra ready guests go.
      const extra = [...this.entries.entries()].filter(([, e]) => e.key === key && e.state === 'ready').slice(0, Math.max(0, -missing));
      for (const [id] of extra) this.end(id);
    }
    await Promise.all(boots);
  }

  status(): PoolStatus {
    const images: PoolImageStatus[] = [...this.targets.entries()].map(([key, t]) => {
      const mine = [...this.entries.values()].filter((e) => e.key === key && (e.state === 'ready' || e.state === 'booting'));
      return {
        image: t.image,
        key,
        memoryMiB: t.memoryMiB,
        size: t.size,
        ready: mine.filter((e) => e.state === 'ready').length,
        booting: mine.filter((e) => e.state === 'booting').length,
        rssBytes: mine.reduce((sum, e) => sum + (groupRssBytes(e.booting.guest.pgid) ?? 0), 0),
      };
    });
    return { pid: process.pid, images, rssBytes: images.reduce((s, i) => s + i.rssBytes, 0), claimed: this.claimed };
  }

  /** A ready guest of `key`, reserved for `by` until taken or released. */
  claim(key: string, by: object): PooledGuest | null {
    this.rekey();
    const found = [...this.entries.entries()].find(([, e]) => e.key === key && e.state === 'ready');
    if (!found) return null;
    const [id, entry] = found;
    entry.state = 'claimed';
    entry.claimedBy = by;
    entry.claimTimer = setTimeout(() => {
      this.log(`guest ${id} was claimed but not taken within ${CLAIM_TIMEOUT_MS / 1000} s; ending it`);
      this.end(id);
    }, CLAIM_TIMEOUT_MS);
    this.lastClaimAt = Date.now();
    return entry.booting.guest;
  }

  /** The lab has opened the guest's FIFOs and recorded it: it is the lab's now. */
  taken(id: string): void {
    const entry = this.entries.get(id);
    if (!entry || entry.state !== 'claimed') return;
    clearTimeout(entry.claimTimer);
    entry.booting.letGo();
    this.entries.delete(id);
    removeRecord(this.dir, 'guest', id);
    this.claimed++;
    this.lastClaimAt = Date.now();
    this.scheduleRefill();
  }

  release(id: string): void {
    if (this.entries.get(id)?.state === 'claimed') this.end(id);
  }

  /** A client went away: what it claimed and did not take is ended (it may be half moved). */
  dropClaimsOf(by: object): void {
    for (const [id, e] of this.entries) if (e.claimedBy === by) this.end(id);
  }

  /** End every guest (SIGKILL: their disks are throwaway) and wait until they are gone. */
  async down(): Promise<void> {
    this.closing = true;
    clearTimeout(this.refillTimer);
    const all = [...this.entries.keys()];
    const gone = all.map((id) => this.entries.get(id)!.booting.exited);
    for (const id of all) this.end(id);
    await Promise.all(gone);
  }

  // ---- internals ---------------------------------------------------------------------------------

  /**
   * A target's command line is run: even from our own user's socket it is checked like a plan — this
   * host's kernel, an image of the image folder, and only the kernel arguments a guest's shared part
   * may have (guest-argv.ts sharedArgs), never a placement, a device or an identity.
   */
  private checkTarget(t: PoolTarget): void {
    const bad = (why: string) => new UserError(`refusing a pool of ${String(t.image)}: ${why}`, 2);
    if (!Number.isInteger(t.size) || t.size < 0 || t.size > 64) throw bad(`size ${String(t.size)} is not 0–64`);
    if (!Array.isArray(t.shared) || t.shared[0] !== findKernel().path) throw bad('it does not boot the kernel this host uses');
    if (t.shared.slice(1).some((a) => typeof a === 'string' && NOT_SHARED.test(a))) throw bad('its arguments name devices or a machine');
    const placementOrIdentity = (key: string) => ['umid', 'uml_dir', 'init'].includes(key) || /^(ubd\d|vnl_)/.test(key);
    if (t.shared.slice(1).some((a) => typeof a !== 'string' || !/^[a-z0-9_.]+(=[A-Za-z0-9_.,:/=-]*)?$/.test(a) || (placementOrIdentity(a.split('=')[0]!) && a !== 'init=/sbin/vnetlab-init'))) {
      throw bad('it has kernel arguments a guest of a lab never has');
    }
    if (typeof t.imagePath !== 'string' || dirname(t.imagePath) !== this.paths.imageDir || !/^[A-Za-z0-9._@-]+\.ext4$/.test(basename(t.imagePath))) throw bad(`its image is not in ${this.paths.imageDir}`);
  }

  private count(key: string, states: Entry['state'][]): number {
    return [...this.entries.values()].filter((e) => e.key === key && states.includes(e.state)).length;
  }

  private async boot(key: string, target: PoolTarget): Promise<void> {
    const id = `g${this.nextId++}-${process.pid.toString(36)}`;
    const guestDir = poolFiles.guestDir(this.dir, id);
    const umid = `pool-${id}`;
    const cow = join(poolDiskDir(this.paths), `${id}.cow`);
    const argv = pooledGuestArgv(target.shared, { umid, umlDir: poolFiles.umlDir(this.dir), cow, imagePath: target.imagePath });
    const fifos = {
      toGuest: join(guestDir, 'to-guest'),
      fromGuest: join(guestDir, 'from-guest'),
      consoleIn: join(guestDir, 'console-in'),
      consoleOut: join(guestDir, 'console-out'),
    };
    const launch = pooledGuestLaunch(this.confinement, argv, { umid, umlDir: poolFiles.umlDir(this.dir), cow, imagePath: target.imagePath, guestDir, runtimeRoot: this.paths.runtimeRoot }, hostTmpfs());
    const booting = spawnPooledGuest({ id, argv, umidDir: join(poolFiles.umlDir(this.dir), umid), cow, fifos, memoryDir: launch.memoryDir }, launch, ({ pid, pgid, argv: a, sockets }) =>
      writeRecord(this.dir, { kind: 'guest', name: id, pid, pgid, argv: a, sockets }),
    );
    const entry: Entry = { key, booting, state: 'booting' };
    this.entries.set(id, entry);
    void booting.exited.then((exit) => {
      // A guest that ends while ours (not handed over) leaves its files: remove them.
      if (this.entries.get(id) === entry) {
        this.entries.delete(id);
        clearTimeout(entry.claimTimer);
        removeRecord(this.dir, 'guest', id);
        if ((entry.state === 'ready' || entry.state === 'booting') && !this.closing) this.log(`pooled guest ${id} exited (${exit.signal ?? `exit code ${exit.code}`})`);
        this.scheduleRefill();
      }
      if (!this.entries.has(id)) this.removeFiles(id, entry);
    });
    await booting.waiting;
    if (entry.state === 'booting') entry.state = 'ready';
  }

  private end(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.state = 'ending';
    clearTimeout(entry.claimTimer);
    trySignal(-entry.booting.guest.pgid, 'SIGKILL');
  }

  /** Files of a guest that was not handed over (a handed-over guest's were moved into its lab). */
  private removeFiles(id: string, entry: Entry): void {
    const { guest } = entry.booting;
    rmSync(guest.cow, { force: true });
    rmSync(guest.umidDir, { recursive: true, force: true });
    rmSync(poolFiles.guestDir(this.dir, id), { recursive: true, force: true });
  }

  /**
   * An image rebuilt under a target (same path, new file): its waiting guests run the old file and would
   * never match a lab again, and new ones would carry the old key. Replace them under the new key.
   */
  private rekey(): void {
    for (const [key, target] of [...this.targets]) {
      const now = poolKey(target.shared, target.imagePath);
      if (now === key) continue;
      this.log(`image ${target.image} changed: its pooled guests are replaced`);
      this.dropKey(key);
      this.targets.set(now, target);
      this.scheduleRefill();
    }
  }

  private dropKey(key: string): void {
    this.targets.delete(key);
    for (const [id, e] of this.entries) if (e.key === key && e.state !== 'claimed') this.end(id);
  }

  /**
   * Boot replacements once claims have been quiet for a moment, at most one per core at a time. Not at
   * once even when a kind ran dry: the lab that just took the guests is still running their startup
   * scripts, and a refill then made its start ~40% slower (10 machines, 2 cores).
   */
  private scheduleRefill(): void {
    if (this.closing || this.refillTimer) return;
    const wait = Math.max(0, this.lastClaimAt + REFILL_QUIET_MS - Date.now(), this.backoffUntil - Date.now());
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, wait);
  }

  private refill(): void {
    if (this.closing) return;
    this.rekey();
    if (Date.now() < this.backoffUntil || Date.now() - this.lastClaimAt < REFILL_QUIET_MS) return this.scheduleRefill();
    while (this.refilling < REFILL_PARALLEL) {
      const due = [...this.targets.entries()].find(([key, t]) => this.count(key, ['booting', 'ready']) < t.size);
      if (!due) return;
      this.refilling++;
      void this.boot(due[0], due[1])
        .catch((err: Error) => {
          this.log(`refilling the pool failed: ${err.message}`);
          // Do not spin on a guest that cannot boot: try again later.
          this.backoffUntil = Date.now() + REFILL_BACKOFF_MS;
        })
        .finally(() => {
          this.refilling--;
          this.scheduleRefill();
        });
    }
  }
}
