import { Duplex, Readable, Writable } from 'node:stream';
import { isInstance } from './source-hooks.js';
import { type AnyStream, StreamSource } from './stream-source.js';

/**
 * Any Node stream as a descriptor (a pipe, child stdio that is not a net.Socket, an fs stream,
 * a Transform, a user's Readable): READ needs a readable side, WRITE a writable one, EXCEPT is
 * EOPNOTSUPP (as on a DragonFly pipe). net.Sockets answer before this, in socket.ts.
 */
const sources = new WeakMap<object, StreamSource>();

export function streamDescriptor(ident: unknown): StreamSource | undefined {
  const readable = isInstance(Readable, ident);
  const writable = isInstance(Writable, ident) || isInstance(Duplex, ident);
  if (!readable && !writable) return undefined;
  return streamSource(sources, ident as AnyStream, false, readable, writable);
}

/**
 * The one source of a stream object, made on first use. A destroyed stream is EBADF, unless
 * knotes still wait for their last delivery on it (they can then be deleted or enabled).
 */
export function streamSource(map: WeakMap<object, StreamSource>, s: AnyStream, socket: boolean,
  readable: boolean, writable: boolean): StreamSource | undefined {
  let src = map.get(s);
  // An object made without its constructor (Object.create of a stream prototype) is no stream.
  if ((readable && s._readableState === undefined) || (writable && s._writableState === undefined)) return undefined;
  if (s.destroyed) {
    return src !== undefined && src.final && (src.rklist.size !== 0 || src.wklist.size !== 0) ? src : undefined;
  }
  if (src === undefined) {
    src = new StreamSource(s, socket, readable, writable);
    map.set(s, src);
  }
  return src;
}
