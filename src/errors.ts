import { errnoName } from './errno.js';

/** A whole-call failure of a kqueue function: `code` is the errno name, `errno` its DragonFly number. */
export class KqueueError extends Error {
  readonly code: string;
  readonly errno: number;

  constructor(errno: number, message?: string) {
    const code = errnoName(errno);
    super(message ? `${code}: ${message}` : code);
    this.name = 'KqueueError';
    this.code = code;
    this.errno = errno;
  }
}
