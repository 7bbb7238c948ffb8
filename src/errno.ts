import * as c from './constants.js';

/** DragonFly errno number -> name, for the errno values this library reports. */
const NAMES: ReadonlyMap<number, string> = new Map([
  [c.EPERM, 'EPERM'], [c.ENOENT, 'ENOENT'], [c.ESRCH, 'ESRCH'], [c.EINTR, 'EINTR'],
  [c.EIO, 'EIO'], [c.ENXIO, 'ENXIO'], [c.EBADF, 'EBADF'], [c.ECHILD, 'ECHILD'],
  [c.ENOMEM, 'ENOMEM'], [c.EACCES, 'EACCES'], [c.EFAULT, 'EFAULT'], [c.EBUSY, 'EBUSY'],
  [c.EEXIST, 'EEXIST'], [c.ENOTDIR, 'ENOTDIR'], [c.EISDIR, 'EISDIR'], [c.EINVAL, 'EINVAL'],
  [c.ENFILE, 'ENFILE'], [c.EMFILE, 'EMFILE'], [c.ENOTTY, 'ENOTTY'], [c.ENOSPC, 'ENOSPC'],
  [c.ESPIPE, 'ESPIPE'], [c.EPIPE, 'EPIPE'], [c.EWOULDBLOCK, 'EWOULDBLOCK'],
  [c.ENOTSOCK, 'ENOTSOCK'], [c.EOPNOTSUPP, 'EOPNOTSUPP'], [c.EADDRINUSE, 'EADDRINUSE'],
  [c.ENETUNREACH, 'ENETUNREACH'], [c.ECONNABORTED, 'ECONNABORTED'],
  [c.ECONNRESET, 'ECONNRESET'], [c.ENOTCONN, 'ENOTCONN'], [c.ETIMEDOUT, 'ETIMEDOUT'],
  [c.ECONNREFUSED, 'ECONNREFUSED'], [c.ELOOP, 'ELOOP'], [c.ENAMETOOLONG, 'ENAMETOOLONG'],
  [c.EHOSTUNREACH, 'EHOSTUNREACH'], [c.ENOSYS, 'ENOSYS'],
]);

export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `E${errno}`;
}

const BY_CODE: ReadonlyMap<string, number> = new Map([...[...NAMES].map(([n, name]) => [name, n] as const), ['EAGAIN', c.EAGAIN]]);

/**
 * The DragonFly errno of a Node error code (`'ECONNRESET'` -> 54), for errors reported through
 * the queue (EV_EOF's fflags, EV_ERROR's data). EIO when the code is missing or unknown here.
 */
export function errnoFromCode(code: unknown): number {
  return (typeof code === 'string' && BY_CODE.get(code)) || c.EIO;
}
