// The app's small warm pool (issue 12): while the app is open it keeps booted guests for the lab on
// screen (one per machine with a fresh disk, at most `size`), so that Start is ready in about a second.
// It follows the lab that is open; a pool the app started ends with the app (pool-main.ts --owner), and
// a pool the user started from the command line (`vnetlab pool up`) is only added to, never ended.
// It is an optimisation: anything that goes wrong here is logged, and Start boots cold as always.
import { existsSync } from 'node:fs';
import { poolTargetsForLab } from '../runtime/pool/lab-targets.ts';
import { ensurePool, type PoolClient } from '../runtime/pool/pool-client.ts';

export class AppPool {
  private client: (PoolClient & { started?: boolean }) | undefined;
  private following: Promise<void> = Promise.resolve();

  constructor(
    private readonly size: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
  ) {}

  /** Keep guests for this lab (called when a lab is opened); one lab at a time, the last one wins. */
  follow(labPath: string): void {
    this.following = this.following.then(() => this.warm(labPath)).catch((err: Error) => this.log(`warm pool: ${err.message}`));
  }

  /** End the pool if the app started it. */
  async close(): Promise<void> {
    await this.following;
    const client = this.client;
    this.client = undefined;
    if (client?.started && !client.closed) await client.call('down', {}).catch(() => {});
    client?.close();
  }

  private async warm(labPath: string): Promise<void> {
    // Only kinds whose image is built: building one (minutes) is Start's business, with its progress.
    const targets = (await poolTargetsForLab(labPath, this.size, this.env)).filter((t) => existsSync(t.imagePath));
    if (!this.client || this.client.closed) this.client = await ensurePool(this.env, { owned: true });
    // A pool of the app's own follows the open lab alone; a user's pool keeps what they asked for.
    await this.client.call('up', { targets, only: this.client.started === true });
  }
}
