import { Socket } from 'node:net';
import { isInstance } from './source-hooks.js';
import type { AnyStream, StreamSource } from './stream-source.js';
import { streamSource } from './stream.js';

/**
 * A net.Socket (TCP, Unix, and every stream Node builds on one: child-process stdio,
 * process.stdin on a pipe or terminal, TLS sockets) as a descriptor: the stream source with the
 * socket's extras. EXCEPT is READ's twin (filt_soread; with NOTE_OOB it never fires, Node drops
 * urgent data), and WRITE is not ready while the socket is still connecting.
 */
const sources = new WeakMap<object, StreamSource>();

export function socketDescriptor(ident: unknown): StreamSource | undefined {
  if (!isInstance(Socket, ident)) return undefined;
  return streamSource(sources, ident as AnyStream, true, true, true);
}
