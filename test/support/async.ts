/** A promise's outcome, recorded without awaiting it. */
export interface Tracked<T> {
  settled: boolean;
  value?: T;
  error?: unknown;
}

/** Records when a promise settles, without awaiting it. */
export function track<T>(p: Promise<T>): Tracked<T> {
  const s: Tracked<T> = { settled: false };
  p.then((v) => { s.settled = true; s.value = v; }, (e: unknown) => { s.settled = true; s.error = e; });
  return s;
}

/** Runs queued microtasks only (no macrotask can run in between). */
export async function microtasks(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await null;
}

/** Lets the event loop turn `n` times (setImmediate), so anything deferred by a turn has run. */
export async function turns(n = 2): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
