import type { Descriptor } from '../engine/filter-ops.js';
import { dgramDescriptor } from './dgram.js';
import { fileDescriptor } from './file.js';
import { kqueueDescriptor } from './kqueue.js';
import { serverDescriptor } from './server.js';
import { socketDescriptor } from './socket.js';
import { streamDescriptor } from './stream.js';

/**
 * The descriptor table (the reference's holdfp on the process's files): which object an ident
 * names, for the descriptor filters READ, WRITE, VNODE and EXCEPT. Each kind of descriptor
 * answers for its own objects; the first that knows the ident wins. Nothing else answers:
 * the engine then reports EBADF. The most specific kind comes first: a net.Socket is also a
 * Duplex, and must be seen as a socket.
 */
const kinds: readonly ((ident: unknown) => Descriptor | undefined)[] = [
  kqueueDescriptor,
  fileDescriptor,
  serverDescriptor,
  dgramDescriptor,
  socketDescriptor,
  streamDescriptor,
];

export function getfp(ident: unknown): Descriptor | undefined {
  for (let i = 0; i < kinds.length; i++) {
    const fp = kinds[i]!(ident);
    if (fp !== undefined) return fp;
  }
  return undefined;
}
