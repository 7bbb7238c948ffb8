// Soak phase G: writes to watched files (EVFILT_VNODE, NOTE_WRITE with EV_CLEAR). The writes come in
// rounds of up to 1,000 appends to files picked at random; each round ends with an append to a
// sentinel file, also watched. inotify hands events over in order on the one inotify descriptor
// libuv keeps, and the library reads a file's stat as each event arrives, so once the sentinel's
// event is harvested every append of the round has been seen: a drain then collects the rest. The
// invariants, per round: every file written fires at least once (none lost), no file that was not
// written fires (none invented), and a file fires at most as often as it was written (counts
// coalesced). The last round is a marker append to every file: each file's last write is seen.
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EV_ADD, EV_CLEAR, EV_ERROR, EVFILT_VNODE, NOTE_EXTEND, NOTE_WRITE, kqueue, type KEventInit, type Kqueue,
} from '../../src/index.js';
import { check, fmt, runPhase } from './harness.js';

export interface VnodeSize {
  files: number;
  /** Appends in all, the final markers not included (a tenth of them per tenth). */
  writes: number;
}

const ROUND = 1000;
const SENTINEL = -1;
const WAIT_MS = 5000;
const BYTES = Buffer.from('0123456789abcdef');

class VnodeRig {
  private kq: Kqueue | null = null;
  private dir = '';
  private fds: number[] = [];
  private sentinelFd = -1;
  private seed = 12345;
  private readonly written: Int32Array;
  private readonly fired: Int32Array;
  counts = { writes: 0, markers: 0, events: 0, rounds: 0 };

  constructor(private readonly files: number) {
    this.written = new Int32Array(files);
    this.fired = new Int32Array(files);
  }

  open(): void {
    this.dir = fs.mkdtempSync(join(tmpdir(), 'kqueue-soak-vnode-'));
    const changes: KEventInit[] = [];
    const flags = EV_ADD | EV_CLEAR;
    for (let i = 0; i < this.files; i++) {
      const path = join(this.dir, `f${i}`);
      this.fds.push(fs.openSync(path, 'a'));
      changes.push({ ident: path, filter: EVFILT_VNODE, flags, fflags: NOTE_WRITE, udata: i });
    }
    const sentinel = join(this.dir, 'sentinel');
    this.sentinelFd = fs.openSync(sentinel, 'a');
    changes.push({ ident: sentinel, filter: EVFILT_VNODE, flags, fflags: NOTE_WRITE, udata: SENTINEL });
    this.kq = kqueue();
    // nevents 0: a failed change throws its errno.
    this.kq.keventSync(changes, 0);
  }

  /** A round: `n` appends to files picked at random (every file once when `all`), then checked. */
  async round(n: number, all: boolean): Promise<void> {
    const kq = this.kq!;
    this.written.fill(0);
    this.fired.fill(0);
    for (let j = 0; j < n; j++) {
      let f: number;
      if (all) {
        f = j;
      } else {
        this.seed = (this.seed * 1_103_515_245 + 12_345) >>> 0;
        f = (this.seed >>> 8) % this.files;
      }
      fs.writeSync(this.fds[f]!, BYTES, 0, 1 + (j % BYTES.length));
      this.written[f]!++;
    }
    fs.writeSync(this.sentinelFd, BYTES, 0, 1);
    let sentinel = false;
    let drained = false;
    while (!drained) {
      const evs = sentinel ? kq.keventSync(null, 4096) : await kq.kevent(null, 4096, WAIT_MS);
      if (!sentinel && evs.length === 0) {
        check(false, `G: the sentinel's write was not reported within ${WAIT_MS} ms`);
        break;
      }
      if (sentinel && evs.length === 0) drained = true;
      for (const ev of evs) {
        const f = ev.udata as number;
        if ((ev.flags & EV_ERROR) !== 0 || ev.fflags !== (NOTE_WRITE | NOTE_EXTEND)) {
          check(false, `G: file ${f}: unexpected event ${JSON.stringify({ flags: ev.flags, fflags: ev.fflags, data: ev.data })}`);
        }
        if (f === SENTINEL) sentinel = true;
        else this.fired[f]!++;
      }
      this.counts.events += evs.length;
    }
    for (let f = 0; f < this.files; f++) {
      const w = this.written[f]!;
      const e = this.fired[f]!;
      if (w > 0 && e === 0) check(false, `G: file ${f} was written ${w} times in round ${this.counts.rounds} and never fired (lost)`);
      if (w === 0 && e !== 0) check(false, `G: file ${f} fired ${e} times in round ${this.counts.rounds} without a write (invented)`);
      if (e > w) check(false, `G: file ${f} fired ${e} times for ${w} writes in round ${this.counts.rounds}`);
    }
    this.counts.rounds++;
    if (all) this.counts.markers += n;
    else this.counts.writes += n;
  }

  async run(writes: number): Promise<number> {
    for (let done = 0; done < writes; done += ROUND) await this.round(Math.min(ROUND, writes - done), false);
    return writes;
  }

  close(): void {
    this.kq?.close();
    this.kq = null;
    for (const fd of this.fds) fs.closeSync(fd);
    this.fds = [];
    if (this.sentinelFd >= 0) fs.closeSync(this.sentinelFd);
    this.sentinelFd = -1;
    if (this.dir !== '') fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
  }
}

export async function phaseVnode(size: VnodeSize): Promise<void> {
  const per = Math.max(1, Math.round(size.writes / 10));
  let rig = new VnodeRig(size.files);
  await runPhase({
    name: `G. ${fmt(per * 10)} writes to ${fmt(size.files)} watched files`,
    unit: 'writes',
    warm: async () => {
      const w = new VnodeRig(size.files);
      w.open();
      await w.run(Math.min(per, 5 * ROUND));
      await w.round(size.files, true);
      w.close();
    },
    setup: async () => {
      rig = new VnodeRig(size.files);
      rig.open();
    },
    tenth: () => rig.run(per),
    teardown: async () => {
      // The final marker: after the writes stop, every file's last write must be seen.
      await rig.round(size.files, true);
      rig.close();
      const c = rig.counts;
      return `${c.writes} writes + ${c.markers} final markers in ${c.rounds} rounds, ${c.events - c.rounds} events ` +
        `(${((c.events - c.rounds) / (c.writes + c.markers)).toFixed(2)} per write), each round checked for lost, invented and uncoalesced events`;
    },
  });
}
