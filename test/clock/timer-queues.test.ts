// The clock's timer queues: buckets of entries due together, in (deadline, arming) order, with
// lazy cancellation; and the real clock's whole-millisecond deadlines (src/clock/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EV_ADD, EV_ONESHOT, EVFILT_TIMER, kqueue } from '../../src/index.js';
import { realClock } from '../../src/clock/real-clock.js';
import { type TimerHandler, TimerQueues } from '../../src/clock/timer-queues.js';

interface Entry {
  name: string;
  period: number;
  link: Entry | null | false;
  dead: boolean;
  fired: number;
}

/** A handler over plain entries that records every expiry as `name@time` (or `name@time x n`). */
function queues(): { q: TimerQueues<Entry>; log: string[]; entry(name: string, period?: number): Entry; now: () => number; at: (d: number) => number } {
  const log: string[] = [];
  let now = 0;
  const handler: TimerHandler<Entry> = {
    cancelled: (e) => e.dead,
    rearm(e) {
      if (e.period < 0) {
        e.link = false;
        return -1;
      }
      return e.period;
    },
    expire(e, times) {
      e.fired += times;
      log.push(times === 1 ? `${e.name}@${now}` : `${e.name}@${now}x${times}`);
    },
    next: (e) => e.link as Entry | null,
    setNext(e, next) {
      e.link = next;
    },
  };
  return {
    q: new TimerQueues(handler),
    log,
    entry: (name, period = -1) => ({ name, period, link: false, dead: false, fired: 0 }),
    now: () => now,
    at: (d) => (now = Math.max(now, d)),
  };
}

test('entries expire by deadline, and entries due together in the order they were armed', () => {
  const { q, log, entry, at } = queues();
  q.arm(entry('c'), 10);
  q.arm(entry('a'), 5);
  q.arm(entry('d'), 10);
  q.arm(entry('b'), 5);
  q.arm(entry('e'), 7.25);
  q.expireDue(100, true, at);
  assert.deepEqual(log, ['a@5', 'b@5', 'e@7.25', 'c@10', 'd@10']);
  assert.equal(q.live, 0);
  assert.equal(q.nextDeadline(), Infinity);
});

test('a re-arm goes behind every entry already armed for its new deadline', () => {
  const { q, log, entry, at } = queues();
  q.arm(entry('p', 5), 5); // due at 5, then 10
  q.arm(entry('x'), 10); // armed before p re-arms for 10
  q.expireDue(10, true, at);
  assert.deepEqual(log, ['p@5', 'x@10', 'p@10']);
  assert.equal(q.nextDeadline(), 15);
});

test('deadlines that share a cache slot (4096 ms apart) keep their own buckets', () => {
  const { q, log, entry, at } = queues();
  q.arm(entry('late'), 4096 + 3);
  q.arm(entry('early'), 3);
  q.arm(entry('late2'), 4096 + 3);
  q.arm(entry('early2'), 3);
  q.expireDue(3, true, at);
  assert.deepEqual(log, ['early@3', 'early2@3']);
  q.expireDue(5000, true, at);
  assert.deepEqual(log.slice(2), ['late@4099', 'late2@4099']);
});

test('a limit inside a millisecond expires only what is due by then', () => {
  const { q, log, entry, at } = queues();
  q.arm(entry('a'), 2.5);
  q.arm(entry('b'), 2.75);
  q.expireDue(2.6, true, at);
  assert.deepEqual(log, ['a@2.5']);
  assert.equal(q.nextDeadline(), 2.75);
});

test('cancelled entries are skipped, and compacted once they outnumber the live ones', () => {
  const { q, log, entry, at } = queues();
  const all: Entry[] = [];
  for (let i = 0; i < 20_000; i++) {
    const e = entry(String(i));
    all.push(e);
    q.arm(e, 1 + (i % 100));
  }
  for (const e of all) {
    if (Number(e.name) % 10 === 0) continue;
    e.dead = true;
    q.cancel();
  }
  assert.equal(q.live, 2000);
  q.expireDue(1000, true, at);
  assert.equal(log.length, 2000);
  assert.ok(log.every((s) => Number(s.split('@')[0]) % 10 === 0));
  // Still in (deadline, arming) order after compaction.
  const order = log.map((s) => Number(s.split('@')[0]));
  const expected = [...order].sort((a, b) => (1 + (a % 100)) - (1 + (b % 100)) || a - b);
  assert.deepEqual(order, expected);
});

test('cancelling every entry forgets them all at once', () => {
  const { q, entry, at, log } = queues();
  const es = [entry('a'), entry('b', 3)];
  q.arm(es[0]!, 4);
  q.arm(es[1]!, 4);
  for (const e of es) {
    e.dead = true;
    q.cancel();
  }
  assert.equal(q.nextDeadline(), Infinity);
  q.expireDue(100, true, at);
  assert.deepEqual(log, []);
});

test('after every entry was cancelled, arming the same deadline again makes a live bucket', () => {
  const { q, entry, at, log } = queues();
  for (let round = 0; round < 3; round++) {
    const e = entry(`r${round}`);
    q.arm(e, 4);
    e.dead = true;
    q.cancel();
  }
  q.arm(entry('live'), 4);
  assert.equal(q.nextDeadline(), 4);
  q.expireDue(10, true, at);
  assert.deepEqual(log, ['live@4']);
});

test('a periodic entry due 1024 times or more in one catch-up is credited at once', () => {
  const { q, log, entry, at } = queues();
  q.arm(entry('tick', 1), 1);
  q.expireDue(5000, true, at);
  assert.deepEqual(log, ['tick@1x5000']);
  assert.equal(q.nextDeadline(), 5001);
});

test('the real clock counts a period from the next whole millisecond: never early, at most 1 ms late', (t) => {
  const kq = kqueue();
  t.after(() => kq.close());
  const before = performance.now();
  kq.keventSync([{ ident: 1, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT, data: 60_000 }], 0);
  const after = performance.now();
  const d = realClock.nextDeadline();
  assert.ok(Number.isInteger(d), `deadline ${d} is a whole millisecond`);
  assert.ok(d >= Math.ceil(before) + 60_000 && d <= Math.ceil(after) + 60_000, `deadline ${d} for an arm in [${before}, ${after}]`);
});
