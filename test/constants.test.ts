import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as K from '../src/index.js';

// DragonFly's <sys/event.h>, <sys/mount.h> and <sys/errno.h> values at the reference commit.
const expected: Record<string, number> = {
  EVFILT_READ: -1, EVFILT_WRITE: -2, EVFILT_AIO: -3, EVFILT_VNODE: -4, EVFILT_PROC: -5,
  EVFILT_SIGNAL: -6, EVFILT_TIMER: -7, EVFILT_EXCEPT: -8, EVFILT_USER: -9, EVFILT_FS: -10,
  EVFILT_MARKER: 0xf, EVFILT_SYSCOUNT: 10,
  EV_ADD: 0x1, EV_DELETE: 0x2, EV_ENABLE: 0x4, EV_DISABLE: 0x8, EV_ONESHOT: 0x10, EV_CLEAR: 0x20,
  EV_RECEIPT: 0x40, EV_DISPATCH: 0x80, EV_SYSFLAGS: 0xf000, EV_NODATA: 0x1000, EV_FLAG1: 0x2000,
  EV_ERROR: 0x4000, EV_EOF: 0x8000,
  NOTE_FFNOP: 0, NOTE_FFAND: 0x40000000, NOTE_FFOR: 0x80000000, NOTE_FFCOPY: 0xc0000000,
  NOTE_FFCTRLMASK: 0xc0000000, NOTE_FFLAGSMASK: 0xffffff, NOTE_TRIGGER: 0x1000000,
  NOTE_LOWAT: 1, NOTE_OOB: 2,
  NOTE_DELETE: 1, NOTE_WRITE: 2, NOTE_EXTEND: 4, NOTE_ATTRIB: 8, NOTE_LINK: 0x10, NOTE_RENAME: 0x20,
  NOTE_REVOKE: 0x40,
  NOTE_EXIT: 0x80000000, NOTE_FORK: 0x40000000, NOTE_EXEC: 0x20000000, NOTE_PCTRLMASK: 0xf0000000,
  NOTE_PDATAMASK: 0xfffff, NOTE_TRACK: 1, NOTE_TRACKERR: 2, NOTE_CHILD: 4,
  VQ_NOTRESP: 1, VQ_NEEDAUTH: 2, VQ_LOWDISK: 4, VQ_MOUNT: 8, VQ_UNMOUNT: 0x10, VQ_DEAD: 0x20,
  VQ_ASSIST: 0x40, VQ_NOTRESPLOCK: 0x80,
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, EBADF: 9, ENOMEM: 12, EACCES: 13,
  EFAULT: 14, EINVAL: 22, ENOTTY: 25, EWOULDBLOCK: 35, EOPNOTSUPP: 45,
};

test('every constant of the contract is exported with its DragonFly value', () => {
  const exported = K as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(expected)) {
    assert.equal(exported[name], value, name);
  }
});

test('fflags constants are non-negative, so NOTE_FFOR === 0x80000000', () => {
  for (const [name, value] of Object.entries(K)) {
    if (name.startsWith('NOTE_') || name.startsWith('VQ_')) assert.ok((value as number) >= 0, name);
  }
});

test('tunables start at the reference defaults and are mutable', () => {
  assert.equal(K.tunables.kq_calloutmax, 4096);
  assert.equal(K.tunables.kq_checkloop, 1000000);
  assert.equal(K.tunables.kq_sleep_threshold, 20000);
  const saved = K.tunables.kq_calloutmax;
  K.tunables.kq_calloutmax = 7;
  assert.equal(K.tunables.kq_calloutmax, 7);
  K.tunables.kq_calloutmax = saved;
});

test('KqueueError carries the errno name and DragonFly number', () => {
  const kq = K.kqueue();
  kq.close();
  assert.throws(() => kq.keventSync([], 1), (e: unknown) => {
    assert.ok(e instanceof K.KqueueError);
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'EBADF');
    assert.equal(e.errno, 9);
    return true;
  });
});

test('kqueue() and new Kqueue() make the same kind of object', () => {
  const a = K.kqueue();
  const b = new K.Kqueue();
  assert.ok(a instanceof K.Kqueue);
  assert.equal(a.pending, 0);
  assert.equal(b.closed, false);
  a.close();
  b.close();
  assert.equal(a.closed, true);
});
