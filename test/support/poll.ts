// Waiting for something real to happen (a guest, a pool, a page) without fixed sleeps.

/**
 * Read until `predicate` holds or `ms` pass; returns the last value, for the caller to assert on (so a
 * timeout fails with what was seen). `read` may be async: one read at a time, `everyMs` apart.
 */
export async function eventually<T>(read: () => T | Promise<T>, predicate: (v: T) => boolean, ms = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  let value = await read();
  while (!predicate(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, everyMs));
    value = await read();
  }
  return value;
}

/**
 * For a wait whose value nobody asserts afterwards: like `eventually`, but a timeout throws, saying what
 * was last seen (a bare `await eventually(…)` passed on a timeout, so the check behind it could not fail).
 */
export async function waitUntil<T>(read: () => T | Promise<T>, predicate: (v: T) => boolean, ms = 10_000, everyMs = 100): Promise<T> {
  const value = await eventually(read, predicate, ms, everyMs);
  if (!predicate(value)) throw new Error(`not so within ${ms} ms; last seen: ${describeValue(value)}`);
  return value;
}

function describeValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value.length > 400 ? `…${value.slice(-400)}` : value) : JSON.stringify(value) ?? String(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
