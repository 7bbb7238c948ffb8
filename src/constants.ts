/**
 * Every constant of DragonFly BSD's <sys/event.h>, <sys/mount.h> (VQ_*) and the errno values that
 * kevent() reports, with DragonFly's numbers (reference commit 3873f15a, 2018-04-21).
 */

// Filters. A filter number maps to its table slot by bitwise complement (-1 -> 0, -10 -> 9).
export const EVFILT_READ = -1;
export const EVFILT_WRITE = -2;
export const EVFILT_AIO = -3;
export const EVFILT_VNODE = -4;
export const EVFILT_PROC = -5;
export const EVFILT_SIGNAL = -6;
export const EVFILT_TIMER = -7;
export const EVFILT_EXCEPT = -8;
export const EVFILT_USER = -9;
export const EVFILT_FS = -10;
/** Internal placeholder in a pending queue; never valid from a changelist. */
export const EVFILT_MARKER = 0xf;
/** Number of system filters: valid filters are -1 .. -EVFILT_SYSCOUNT. */
export const EVFILT_SYSCOUNT = 10;

// Actions (input) and status (output) flags: the 16-bit `flags` word.
export const EV_ADD = 0x0001;
export const EV_DELETE = 0x0002;
export const EV_ENABLE = 0x0004;
export const EV_DISABLE = 0x0008;
export const EV_ONESHOT = 0x0010;
export const EV_CLEAR = 0x0020;
export const EV_RECEIPT = 0x0040;
export const EV_DISPATCH = 0x0080;
/** Bits removed from every incoming change before it is processed. */
export const EV_SYSFLAGS = 0xf000;
export const EV_NODATA = 0x1000;
/** Marks a registration made by the engine itself (NOTE_TRACK children); stripped from input. */
export const EV_FLAG1 = 0x2000;
export const EV_ERROR = 0x4000;
export const EV_EOF = 0x8000;

// EVFILT_USER: the top two bits of fflags select an operation on the stored 24 bits.
export const NOTE_FFNOP = 0x00000000;
export const NOTE_FFAND = 0x40000000;
export const NOTE_FFOR = 0x80000000;
export const NOTE_FFCOPY = 0xc0000000;
export const NOTE_FFCTRLMASK = 0xc0000000;
export const NOTE_FFLAGSMASK = 0x00ffffff;
export const NOTE_TRIGGER = 0x01000000;

// EVFILT_READ / EVFILT_WRITE / EVFILT_EXCEPT.
export const NOTE_LOWAT = 0x0001;
export const NOTE_OOB = 0x0002;

// EVFILT_VNODE.
export const NOTE_DELETE = 0x0001;
export const NOTE_WRITE = 0x0002;
export const NOTE_EXTEND = 0x0004;
export const NOTE_ATTRIB = 0x0008;
export const NOTE_LINK = 0x0010;
export const NOTE_RENAME = 0x0020;
export const NOTE_REVOKE = 0x0040;

// EVFILT_PROC.
export const NOTE_EXIT = 0x80000000;
export const NOTE_FORK = 0x40000000;
export const NOTE_EXEC = 0x20000000;
export const NOTE_PCTRLMASK = 0xf0000000;
export const NOTE_PDATAMASK = 0x000fffff;
export const NOTE_TRACK = 0x00000001;
export const NOTE_TRACKERR = 0x00000002;
export const NOTE_CHILD = 0x00000004;

// EVFILT_FS hints (<sys/mount.h>), reported in fflags.
export const VQ_NOTRESP = 0x0001;
export const VQ_NEEDAUTH = 0x0002;
export const VQ_LOWDISK = 0x0004;
export const VQ_MOUNT = 0x0008;
export const VQ_UNMOUNT = 0x0010;
export const VQ_DEAD = 0x0020;
export const VQ_ASSIST = 0x0040;
export const VQ_NOTRESPLOCK = 0x0080;
export const VQ_FLAG0100 = 0x0100;
export const VQ_FLAG0200 = 0x0200;
export const VQ_FLAG0400 = 0x0400;
export const VQ_FLAG0800 = 0x0800;
export const VQ_FLAG1000 = 0x1000;
export const VQ_FLAG2000 = 0x2000;
export const VQ_FLAG4000 = 0x4000;
export const VQ_FLAG8000 = 0x8000;

// Errno values, DragonFly (4.4BSD) numbering: these differ from Linux's (EOPNOTSUPP is 95 there).
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const ECHILD = 10;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EPIPE = 32;
export const EAGAIN = 35;
export const EWOULDBLOCK = 35;
export const ENOTSOCK = 38;
export const EOPNOTSUPP = 45;
export const ENOTSUP = 45;
export const EADDRINUSE = 48;
export const ENETUNREACH = 51;
export const ECONNABORTED = 53;
export const ECONNRESET = 54;
export const ENOTCONN = 57;
export const ETIMEDOUT = 60;
export const ECONNREFUSED = 61;
export const ELOOP = 62;
export const ENAMETOOLONG = 63;
export const EHOSTUNREACH = 65;
export const ENOSYS = 78;
