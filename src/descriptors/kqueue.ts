import type { KqueueEngine } from '../engine/kqueue.js';

/**
 * A kqueue as a descriptor: the public Kqueue object a user passes as an ident stands for its
 * engine, which attaches READ knotes itself (filt_kqueue). A WeakMap lookup runs no code of the
 * caller's (a Proxy of a Kqueue is not one: EBADF), and a closed kqueue is EBADF.
 */
const engines = new WeakMap<object, KqueueEngine>();

/** Called by the Kqueue constructor. */
export function registerKqueue(kq: object, engine: KqueueEngine): void {
  engines.set(kq, engine);
}

export function kqueueDescriptor(ident: unknown): KqueueEngine | undefined {
  if (typeof ident !== 'object' || ident === null) return undefined;
  const engine = engines.get(ident);
  return engine === undefined || engine.isClosed ? undefined : engine;
}
