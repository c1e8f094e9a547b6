// What every real-UML bench does around its figures: a failure is one line on stderr and exit code 1,
// and in any case whatever its labs and pool left is ended (from their records) and its temp folder
// deleted, so a bench that fails half-way leaves nothing running.
import { rmSync } from 'node:fs';
import { hostPaths } from '../src/main/paths.ts';
import { cleanAll } from '../src/main/runtime/clean.ts';

export function runBench(main: () => Promise<void>, env: NodeJS.ProcessEnv, base: string, alsoRemove: string[] = []): void {
  main()
    .catch((err) => {
      console.error(`bench failed: ${err instanceof Error ? err.message : err}`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanAll(hostPaths(env));
      for (const dir of [base, ...alsoRemove]) rmSync(dir, { recursive: true, force: true });
    });
}
