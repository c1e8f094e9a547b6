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
