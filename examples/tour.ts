/**
 * A short tour of kqueue for Node.js (`npm start` runs it). Each step prints what it does and
 * the events it harvests. It doubles as sample code: read it top to bottom.
 */
import {
  EBADF, EINVAL, ENOENT, ENXIO, EOPNOTSUPP, EV_ADD, EV_CLEAR, EV_DELETE, EV_DISABLE, EV_DISPATCH,
  EV_ENABLE, EV_EOF, EV_ERROR, EV_NODATA, EV_ONESHOT, EV_RECEIPT, EVFILT_AIO, EVFILT_READ,
  EVFILT_TIMER, EVFILT_USER, type KEvent, Kqueue, kqueue, KqueueError, NOTE_FFCOPY, NOTE_FFOR,
  NOTE_TRIGGER, VirtualClock,
} from '../src/index.js';

// ---- printing helpers ---------------------------------------------------------------------------

const FILTERS: Record<number, string> = {
  [EVFILT_READ]: 'READ', [EVFILT_AIO]: 'AIO', [EVFILT_TIMER]: 'TIMER', [EVFILT_USER]: 'USER',
};
const FLAGS: [number, string][] = [
  [EV_ADD, 'ADD'], [EV_DELETE, 'DELETE'], [EV_ENABLE, 'ENABLE'], [EV_DISABLE, 'DISABLE'],
  [EV_ONESHOT, 'ONESHOT'], [EV_CLEAR, 'CLEAR'], [EV_RECEIPT, 'RECEIPT'], [EV_DISPATCH, 'DISPATCH'],
  [EV_NODATA, 'NODATA'], [EV_ERROR, 'ERROR'], [EV_EOF, 'EOF'],
];
const ERRNOS: Record<number, string> = {
  [ENOENT]: 'ENOENT', [ENXIO]: 'ENXIO', [EBADF]: 'EBADF', [EINVAL]: 'EINVAL', [EOPNOTSUPP]: 'EOPNOTSUPP',
};
/** Names for idents that are objects (kqueues), so they print short. */
const labels = new Map<unknown, string>();

function flagNames(flags: number): string {
  const names = FLAGS.filter(([bit]) => flags & bit).map(([, name]) => name);
  return names.length === 0 ? '0' : names.join('|');
}

function show(ev: KEvent): string {
  const ident = labels.get(ev.ident) ?? JSON.stringify(ev.ident);
  const filter = FILTERS[ev.filter] ?? String(ev.filter);
  const fflags = '0x' + ev.fflags.toString(16).padStart(6, '0');
  // In a change-result entry (EV_ERROR), data is an errno: 0 means success.
  const data = ev.flags & EV_ERROR
    ? (ev.data === 0 ? '0 (success)' : `${ev.data} (${ERRNOS[Number(ev.data)] ?? '?'})`)
    : String(ev.data);
  const udata = ev.udata === undefined ? '' : `  udata=${JSON.stringify(ev.udata)}`;
  return `${filter.padEnd(5)} ident=${ident.padEnd(10)} flags=${flagNames(ev.flags).padEnd(18)} ` +
    `fflags=${fflags}  data=${data}${udata}`;
}

function print(what: string, events: KEvent[]): void {
  console.log(`  ${what}: ${events.length === 0 ? 'no events' : events.length + ' event(s)'}`);
  for (const ev of events) console.log('    ' + show(ev));
}

function step(title: string): void {
  console.log(`\n== ${title}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. EVFILT_USER: events the program triggers itself -----------------------------------------

step('1. A kqueue and two EVFILT_USER knotes (edge-triggered and level-triggered)');
const kq = kqueue();
labels.set(kq, 'kq');

// A changelist registers interest; nevents 0 means "apply the changes, collect nothing".
kq.keventSync([
  { ident: 'edge', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, udata: 'reset after delivery' },
  { ident: 'level', filter: EVFILT_USER, flags: EV_ADD, udata: 'stays ready' },
], 0);
console.log(`  registered 'edge' (EV_CLEAR) and 'level'; pending = ${kq.pending} (nothing triggered yet)`);

// NOTE_TRIGGER fires a user event. The top two bits of fflags pick how the low 24 bits combine
// with the stored ones (NOTE_FFOR: OR them in); data is stored as given.
kq.keventSync([
  { ident: 'edge', filter: EVFILT_USER, fflags: NOTE_TRIGGER | NOTE_FFOR | 0x11, data: 42 },
  { ident: 'level', filter: EVFILT_USER, fflags: NOTE_TRIGGER | NOTE_FFOR | 0x300, data: 7 },
], 0);
console.log(`  triggered both (NOTE_TRIGGER | NOTE_FFOR | bits, with data); pending = ${kq.pending}`);
print('keventSync(null, 8)', kq.keventSync(null, 8));
print('again: EV_CLEAR consumed \'edge\', \'level\' is still ready', kq.keventSync(null, 8));

// NOTE_FFCOPY replaces the stored bits. A modification always stores its data (here 0: omitted).
kq.keventSync([{ ident: 'level', filter: EVFILT_USER, fflags: NOTE_FFCOPY | 0x5 }], 0);
print('after NOTE_FFCOPY | 0x5 on \'level\'', kq.keventSync(null, 8));

// EV_CLEAR in a modification un-triggers a level knote.
kq.keventSync([{ ident: 'level', filter: EVFILT_USER, flags: EV_CLEAR }], 0);
print('after a modification with EV_CLEAR on \'level\'', kq.keventSync(null, 8));

// ---- 2. EV_DISPATCH and EV_ONESHOT --------------------------------------------------------------

step('2. EV_DISPATCH (disable after each delivery) and EV_ONESHOT (delete after delivery)');
kq.keventSync([
  { ident: 'dispatch', filter: EVFILT_USER, flags: EV_ADD | EV_DISPATCH, fflags: NOTE_TRIGGER, data: 1 },
  { ident: 'oneshot', filter: EVFILT_USER, flags: EV_ADD | EV_ONESHOT, fflags: NOTE_TRIGGER, data: 2 },
], 0);
print('first harvest', kq.keventSync(null, 8));
print('second harvest (\'dispatch\' is disabled, \'oneshot\' is gone)', kq.keventSync(null, 8));
// Re-arm the dispatched knote. Like any USER modification, EV_ENABLE also stores its data.
kq.keventSync([{ ident: 'dispatch', filter: EVFILT_USER, flags: EV_ENABLE, data: 3 }], 0);
print('after EV_ENABLE on \'dispatch\' (it is still triggered)', kq.keventSync(null, 8));
kq.keventSync([{ ident: 'dispatch', filter: EVFILT_USER, flags: EV_DELETE }], 0);

// ---- 3. Receipts and per-change errors ----------------------------------------------------------

step('3. EV_RECEIPT and per-change errors: one EV_ERROR entry per change, in order');
kq.keventSync([{ ident: 'ready', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER }], 0);
const entries = kq.keventSync([
  { ident: 'receipt', filter: EVFILT_USER, flags: EV_ADD | EV_RECEIPT }, // success: data 0
  { ident: 'oneshot', filter: EVFILT_USER, flags: EV_DELETE }, // delivered and deleted above
  { ident: 'aio', filter: EVFILT_AIO, flags: EV_ADD }, // DragonFly has no kernel AIO
  { ident: 'x', filter: 42, flags: EV_ADD }, // no such filter
], 8);
print('keventSync(4 changes, 8)', entries);
console.log(`  'ready' was not collected: a call that posts entries returns them at once (pending = ${kq.pending})`);
print('next call collects it', kq.keventSync(null, 8));
try {
  kq.keventSync([{ ident: 'missing', filter: EVFILT_USER, flags: EV_DELETE }], 0);
} catch (e) {
  // With no room left in nevents, a change's error fails the whole call instead.
  if (!(e instanceof KqueueError)) throw e;
  console.log(`  with nevents 0 there is no room for the entry: the call throws KqueueError code=${e.code} errno=${e.errno}`);
}

// ---- 4. EVFILT_TIMER on the real clock, harvested with for await --------------------------------

step('4. EVFILT_TIMER: a 100 ms periodic timer and a 250 ms one-shot, harvested for ~1 s');
const start = performance.now();
kq.keventSync([
  { ident: 'tick', filter: EVFILT_TIMER, flags: EV_ADD, data: 100 }, // data = period in ms
  { ident: 'once', filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 250 },
], 0);
const stop = new AbortController();
const stopTimer = setTimeout(() => stop.abort(), 1050);
let paused = false;
// events() harvests batch by batch and ends when the signal aborts (or the kqueue closes).
for await (const ev of kq.events({ signal: stop.signal })) {
  const at = `+${Math.round(performance.now() - start)} ms`.padStart(9);
  console.log(`  ${at}  ${show(ev)}`);
  if (ev.ident === 'tick' && !paused && performance.now() - start > 400) {
    // A slow consumer loses nothing: the timer keeps counting and the next event carries the
    // number of expirations since the last one in data.
    paused = true;
    console.log('            (consumer busy for 350 ms: the next tick reports the expirations it missed)');
    await sleep(350);
  }
}
clearTimeout(stopTimer);
console.log('  timers are EV_CLEAR automatically; the one-shot fired once and was deleted');
kq.keventSync([{ ident: 'tick', filter: EVFILT_TIMER, flags: EV_DELETE }], 0);

// A wait with a timeout resolves with [] when nothing arrives.
const t0 = performance.now();
const none = await kq.kevent(null, 8, 50);
console.log(`  kevent(null, 8, 50) with nothing pending: ${JSON.stringify(none)} after ${Math.round(performance.now() - t0)} ms`);

// ---- 5. A kqueue watching another kqueue --------------------------------------------------------

step('5. EVFILT_READ on a kqueue: an outer kqueue is told when an inner one has events');
const inner = new Kqueue();
const outer = kqueue();
labels.set(inner, 'inner').set(outer, 'outer');
outer.keventSync([{ ident: inner, filter: EVFILT_READ, flags: EV_ADD }], 0);
inner.keventSync([
  { ident: 'a', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER },
  { ident: 'b', filter: EVFILT_USER, flags: EV_ADD | EV_CLEAR, fflags: NOTE_TRIGGER },
], 0);
print('outer harvest (data = events pending in inner)', outer.keventSync(null, 8));
print('inner harvest', inner.keventSync(null, 8));
print('outer harvest after inner was drained', outer.keventSync(null, 8));

// An outer wait wakes up as soon as something is queued in the inner kqueue.
setTimeout(() => {
  inner.keventSync([{ ident: 'a', filter: EVFILT_USER, fflags: NOTE_TRIGGER }], 0);
}, 100);
const t1 = performance.now();
const woke = await outer.kevent(null, 8, 1000);
print(`outer.kevent(null, 8, 1000) woke after ${Math.round(performance.now() - t1)} ms`, woke);

// ---- 6. Virtual time ----------------------------------------------------------------------------

step('6. A VirtualClock: timers and timeouts move only when told to (for tests)');
const clock = new VirtualClock();
const vkq = kqueue({ clock });
vkq.keventSync([{ ident: 'every 10 ms', filter: EVFILT_TIMER, flags: EV_ADD, data: 10 }], 0);
clock.advance(35);
print(`after clock.advance(35), now() = ${clock.now()}`, vkq.keventSync(null, 8));
vkq.close();

// ---- 7. Closing ---------------------------------------------------------------------------------

step('7. close(): knotes dropped, waits rejected with EBADF, nothing left running');
const waiting = kq.kevent(null, 8); // waits without limit
kq.close();
try {
  await waiting;
} catch (e) {
  if (!(e instanceof KqueueError)) throw e;
  console.log(`  a wait pending on close rejects: ${e.code}`);
}
inner.close();
console.log(`  closing 'inner' dropped outer's watch on it: outer.pending = ${outer.pending}`);
outer.close();
console.log(`  closed: kq=${kq.closed} inner=${inner.closed} outer=${outer.closed}; the process now exits by itself`);
