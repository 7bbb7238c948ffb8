/**
 * Node's own view of a signal: a listener of the test's, installed next to the knotes, counting
 * what Node delivered, with a way to wait until it has seen `n`. The library's listener runs
 * before it (it is prepended), so once this one has seen a delivery every knote has counted it.
 * Installed, it is also the user's "ignoring" listener (Node's SIG_IGN).
 */
export function counting(t: { after(fn: () => void): void }, name: NodeJS.Signals, onSignal?: () => void):
  { count(): number; seen(n: number): Promise<void> } {
  let count = 0;
  let waiting: { n: number; resolve: () => void } | null = null;
  const listener = (): void => {
    count++;
    onSignal?.();
    if (waiting !== null && count >= waiting.n) {
      const w = waiting;
      waiting = null;
      w.resolve();
    }
  };
  process.on(name, listener);
  t.after(() => { process.removeListener(name, listener); });
  return {
    count: () => count,
    // A signal handle does not keep the loop alive: the timer does while we wait.
    seen: (n) => new Promise<void>((resolve, reject) => {
      if (count >= n) return resolve();
      const timer = setTimeout(() => reject(new Error(`only ${count} of ${n} deliveries seen in 10 s`)), 10_000);
      waiting = { n, resolve: () => { clearTimeout(timer); resolve(); } };
    }),
  };
}
