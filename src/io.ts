import type { RemoteInfo, Socket as DgramSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import { takeDatagram } from './descriptors/dgram.js';
import { takeConnection } from './descriptors/server.js';

/**
 * The I/O helpers of READ on servers and datagram sockets (contract, "I/O helpers"). They live
 * apart from their descriptors so that the published declarations name no engine type.
 */

/** A datagram taken by `recvfrom()`. */
export interface Datagram {
  msg: Buffer;
  rinfo: RemoteInfo;
}

/**
 * The next connection the server has accepted that no one has taken yet (READ `data` on the
 * server counts them), or undefined. Connections are queued from the first READ knote on the
 * server and stay queued after it goes. The socket is exactly what Node made for the server, paused,
 * with nothing read from it yet. Throws a KqueueError (EBADF) when `server` is not a net.Server,
 * as the descriptor filters answer for an object that is not one of theirs.
 */
export function accept(server: Server): Socket | undefined {
  return takeConnection(server);
}

/**
 * The next datagram queued on the socket (READ `data` on it counts the bytes queued), or
 * undefined. Datagrams are queued from the first READ knote on the socket. Throws a KqueueError
 * (EBADF) when `socket` is not a dgram.Socket.
 */
export function recvfrom(socket: DgramSocket): Datagram | undefined {
  return takeDatagram(socket);
}
