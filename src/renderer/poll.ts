// A refresh that never piles up: the next call is due `everyMs` after the previous one was answered
// (issue 22: the app asked for status every 5 s without waiting, and at 100 machines the answers took
// longer than that, so the calls queued up in the supervisor).

/** Runs `task` every `everyMs`, one at a time, while `wanted()` holds; returns a function that stops it. */
export function pollAfterAnswer(everyMs: number, task: () => Promise<unknown>, wanted: () => boolean = () => true): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const next = () => {
    if (!stopped) timer = setTimeout(run, everyMs);
  };
  const run = () => {
    timer = undefined;
    if (!wanted()) return next();
    task().then(next, next);
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
