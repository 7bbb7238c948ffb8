import { createRequire } from 'node:module';
import os from 'node:os';
import { EINVAL, EV_CLEAR } from '../constants.js';
import type { FilterOps } from '../engine/filter-ops.js';
import { Klist } from '../engine/klist.js';
import type { Knote } from '../engine/knote.js';

/**
 * EVFILT_SIGNAL (the reference's filt_sigattach / filt_signal): `data` counts deliveries of the
 * signal since the last harvest; EV_CLEAR is forced on. The ident is a signal number in the
 * host's numbering (`os.constants.signals`) or a signal name; a number that no listener can catch
 * is accepted and never fires, as DragonFly accepts any number; an unknown name is EINVAL.
 *
 * Counting needs a `process.on(name)` listener, and in Node a listener is a disposition: it
 * replaces the default action. A knote must never change what the process does on a signal, so
 * the one listener per signal (shared by every knote in every kqueue, a klist per signal) counts
 * and then, when no other listener exists, performs Node's default itself (see `nodeDefault`).
 */

/** The reference's internal hint: "this post carries a signal". */
const NOTE_SIGNAL = 0x08000000;

const hostSignals = os.constants.signals as Readonly<Record<string, number>>;

/** Every name of each host signal number (SIGIOT and SIGABRT are both 6). */
const namesOf = new Map<number, string[]>();
for (const [name, n] of Object.entries(hostSignals)) {
  const list = namesOf.get(n);
  if (list === undefined) namesOf.set(n, [name]);
  else list.push(name);
}

/**
 * Signals a knote accepts but never counts. SIGKILL and SIGSTOP cannot be caught at all. A
 * handler for SIGSEGV, SIGBUS, SIGFPE or SIGILL would change what a real fault does (libuv's
 * handler returns and the faulting instruction runs again) and would replace V8's WebAssembly
 * trap handler: watching them must not do that.
 */
const NEVER_CAUGHT = new Set(['SIGKILL', 'SIGSTOP', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL']
  .map((name) => hostSignals[name]).filter((n) => n !== undefined));

/**
 * What Node does on a signal nobody listens to:
 * - 'ignore': nothing (the kernel's default for SIGCHLD, SIGWINCH, SIGURG, SIGCONT; Node's own
 *   for SIGPIPE and SIGXFSZ);
 * - 'inspector': SIGUSR1 starts the inspector;
 * - 'raise': the kernel's default action (terminate, core dump or stop).
 */
type NodeDefault = 'ignore' | 'inspector' | 'raise';

function nodeDefault(name: string): NodeDefault {
  switch (name) {
    case 'SIGCHLD': case 'SIGWINCH': case 'SIGURG': case 'SIGCONT': case 'SIGPIPE': case 'SIGXFSZ':
      return 'ignore';
    case 'SIGUSR1':
      return inspectorOnSigusr1() ? 'inspector' : 'raise';
    default:
      return 'raise';
  }
}

/**
 * Removing the last listener of a signal resets it to SIG_DFL, which is not Node's default for
 * these three: Node ignores SIGPIPE and SIGXFSZ, and SIGUSR1 starts its inspector. JavaScript cannot
 * restore that disposition, so once installed, the listener of these signals stays, performing
 * Node's default (doing nothing, or opening the inspector) whenever it is the only listener.
 */
function keepsListener(name: string): boolean {
  return name === 'SIGPIPE' || name === 'SIGXFSZ' || (name === 'SIGUSR1' && inspectorOnSigusr1());
}

let sigusr1Inspector: boolean | undefined;

/** Whether this Node starts its inspector on SIGUSR1 (built with one, and not --disable-sigusr1). */
function inspectorOnSigusr1(): boolean {
  if (sigusr1Inspector === undefined) {
    const opts = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
    sigusr1Inspector = !opts.includes('--disable-sigusr1') && process.features.inspector === true;
  }
  return sigusr1Inspector;
}

const requireHere = createRequire(import.meta.url);

/** Node's SIGUSR1 default: start the inspector (on --inspect-port, 9229 by default) unless it runs. */
function openInspector(): void {
  try {
    const inspector = requireHere('node:inspector') as typeof import('node:inspector');
    if (inspector.url() === undefined) inspector.open();
  } catch {
    // No inspector in this build, or its port is taken: Node's own handler would fail alike.
  }
}

/** One signal being watched: the reference's per-process signal klist, with its Node listener. */
class SignalSource {
  readonly klist = new Klist();
  /** Our listener is installed on `name`. */
  listening = false;
  /** The listener: every knote's count first, then Node's default when no one else listens. */
  readonly listener = (): void => this.delivered();

  constructor(readonly signo: number, readonly name: string) {}

  /** Installs the listener; false when Node refuses (then the knotes simply never fire). */
  listen(): boolean {
    if (this.listening) return true;
    try {
      // First among listeners: it runs (and counts others) before a once() listener removes itself.
      process.prependListener(this.name as NodeJS.Signals, this.listener);
    } catch {
      return false;
    }
    this.listening = true;
    return true;
  }

  unlisten(): void {
    if (!this.listening) return;
    this.listening = false;
    process.removeListener(this.name as NodeJS.Signals, this.listener);
  }

  private delivered(): void {
    // Counted at delivery, as DragonFly counts a caught signal (digest 3.9, point 3).
    if (this.klist.size !== 0) this.klist.post(NOTE_SIGNAL);
    if (this.otherListeners() === 0) this.runDefault();
  }

  /** Listeners other than ours on any name of this signal number. */
  private otherListeners(): number {
    let n = 0;
    for (const name of namesOf.get(this.signo)!) n += process.listenerCount(name);
    return this.listening ? n - 1 : n;
  }

  /** What the process would have done without our listener. */
  private runDefault(): void {
    switch (nodeDefault(this.name)) {
      case 'ignore':
        return;
      case 'inspector':
        openInspector();
        return;
      case 'raise': {
        // Step aside (the disposition returns to SIG_DFL) and send the signal again: the kernel
        // then terminates, dumps core or stops the process, exactly as without a listener. If the
        // process goes on (continued after a stop), the listener comes back for the knotes.
        const wanted = this.klist.size !== 0;
        this.unlisten();
        try {
          process.kill(process.pid, this.signo);
        } finally {
          if (wanted && this.klist.size !== 0) this.listen();
          else sources.delete(this.signo);
        }
      }
    }
  }
}

/** Watched signals by host number. */
const sources = new Map<number, SignalSource>();

/** @internal the listener state of a signal, for tests. */
export function signalSourceOf(signo: number): { knotes: number; listening: boolean } | undefined {
  const s = sources.get(signo);
  return s === undefined ? undefined : { knotes: s.klist.size, listening: s.listening };
}

/**
 * The host signal number an ident names: a number as it is; a name looked up; -1 for idents no
 * listener can ever see (a non-integer, out of range, a real-time signal Node has no name for);
 * undefined for an unknown name or an ident of another type (EINVAL).
 */
export function signalNumber(ident: unknown): number | undefined {
  if (typeof ident === 'string') {
    return Object.prototype.hasOwnProperty.call(hostSignals, ident) ? hostSignals[ident] : undefined;
  }
  if (typeof ident === 'number') return Number.isInteger(ident) && namesOf.has(ident) ? ident : -1;
  if (typeof ident === 'bigint') return ident > 0n && ident < 256n && namesOf.has(Number(ident)) ? Number(ident) : -1;
  return undefined;
}

export const signalFilterOps: FilterOps = {
  isFd: false,
  attach(kn: Knote): number {
    const signo = signalNumber(kn.ident);
    if (signo === undefined) return EINVAL;
    kn.flags |= EV_CLEAR;
    kn.hook = null;
    // Any number is accepted (DragonFly validates nothing); one no listener can catch never fires.
    if (signo < 0 || NEVER_CAUGHT.has(signo)) return 0;
    let src = sources.get(signo);
    if (src === undefined) {
      src = new SignalSource(signo, namesOf.get(signo)![0]!);
      sources.set(signo, src);
    }
    if (!src.listen()) return 0;
    src.klist.insert(kn);
    kn.hook = src;
    return 0;
  },
  /** An unknown signal name is a malformed call (the contract); any number is accepted. */
  malformed(ident: unknown): boolean {
    return typeof ident === 'string' && signalNumber(ident) === undefined;
  },
  detach(kn: Knote): void {
    const src = kn.hook as SignalSource | null;
    if (src === null) return;
    src.klist.remove(kn);
    if (src.klist.size === 0 && !keepsListener(src.name)) {
      src.unlisten();
      sources.delete(src.signo);
    }
  },
  event(kn: Knote, hint: number): boolean {
    if (hint & NOTE_SIGNAL) kn.data = (kn.data as number) + 1;
    return kn.data !== 0;
  },
};
