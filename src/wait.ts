import { EBADF, EINTR } from './constants.js';
import type { TimeoutEntry } from './clock/timeout-heap.js';
import { KqueueError } from './errors.js';
import type { KEvent } from './kevent.js';
import type { KqueueEngine, Sleeper } from './engine/kqueue.js';

/**
 * While any kevent wait is pending, one ref'd timer keeps the process alive, as a blocked
 * kevent(2) keeps a C program running. Nothing else in the library holds the event loop.
 */
let pendingWaits = 0;
let keepAlive: NodeJS.Timeout | null = null;

function holdProcess(): void {
  if (pendingWaits++ === 0) keepAlive = setInterval(() => {}, 0x3fffffff);
}

function releaseProcess(): void {
  if (--pendingWaits === 0) {
    clearInterval(keepAlive!);
    keepAlive = null;
  }
}

/**
 * A kevent call asleep on a kqueue with nothing collected yet. It is woken by an enqueue (and then
 * re-scans in a microtask, as a woken thread runs after the waker releases its locks), times out
 * at its deadline on the kqueue's clock, is interrupted (EINTR) by its AbortSignal, or fails with
 * EBADF when the kqueue closes. Whatever ends it, it settles no earlier than one turn of the event
 * loop after the call (the contract's starvation guard), and as soon as it can after that.
 */
export class Waiter implements Sleeper, TimeoutEntry {
  heapIndex = -1;
  private woken = false;
  private done = false;
  private turned = false;
  private outcome: KEvent[] | KqueueError | undefined;
  private readonly rescan = (): void => this.onWoken();
  private readonly abort = (): void => this.onAbort();

  constructor(
    private readonly kq: KqueueEngine,
    /** The kqueue's waits in progress, which close() fails. */
    private readonly waits: Set<Waiter>,
    private readonly nevents: number,
    readonly deadline: number,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (events: KEvent[]) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    waits.add(this);
    holdProcess();
    if (deadline !== Infinity) kq.clock.addTimeout(this);
    signal?.addEventListener('abort', this.abort);
    kq.sleep(this);
    setImmediate(() => {
      this.turned = true;
      this.settle();
    });
  }

  wakeup(): void {
    this.woken = true;
    queueMicrotask(this.rescan);
  }

  onTimeout(): void {
    // A woken wait re-scans first and notices the deadline itself.
    if (this.woken || this.done) return;
    this.kq.unsleep(this);
    this.finish([]);
  }

  /** The kqueue closed under the wait. */
  close(): void {
    if (!this.done) this.finish(new KqueueError(EBADF, 'the kqueue was closed during the wait'));
  }

  private onAbort(): void {
    if (this.woken || this.done) return;
    this.kq.unsleep(this);
    this.finish(new KqueueError(EINTR, 'the wait was aborted'));
  }

  private onWoken(): void {
    if (this.done) return;
    this.woken = false;
    const kq = this.kq;
    const out = kq.collect(this.nevents);
    if (out.length !== 0 || kq.clock.now() >= this.deadline) {
      this.finish(out);
    } else if (this.signal?.aborted) {
      this.finish(new KqueueError(EINTR, 'the wait was aborted'));
    } else {
      kq.sleep(this);
    }
  }

  private finish(outcome: KEvent[] | KqueueError): void {
    this.done = true;
    this.outcome = outcome;
    const kq = this.kq;
    this.waits.delete(this);
    if (this.heapIndex >= 0) kq.clock.removeTimeout(this);
    releaseProcess();
    this.signal?.removeEventListener('abort', this.abort);
    this.settle();
  }

  private settle(): void {
    const outcome = this.outcome;
    if (!this.turned || outcome === undefined) return;
    this.outcome = undefined;
    if (outcome instanceof KqueueError) this.reject(outcome);
    else this.resolve(outcome);
  }
}
