/**
 * The server side of the echo benchmark, run in its own process by bench/echo-server.ts:
 * `--impl kqueue` is examples/echo-server.ts (one kevent loop); `--impl node` is the same server
 * written the idiomatic Node way ('data' -> write). Prints `port N` once listening, then serves
 * until killed.
 */
import net from 'node:net';
import { startEchoServer } from '../examples/echo-server.js';
import { argValue } from './common.js';

const impl = argValue('--impl');
if (impl === 'kqueue') {
  const echo = await startEchoServer({ port: 0, host: '127.0.0.1' });
  console.log(`port ${echo.port}`);
} else if (impl === 'node') {
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => s.write(d));
    s.on('error', () => s.destroy());
  });
  server.listen(0, '127.0.0.1', () => console.log(`port ${(server.address() as net.AddressInfo).port}`));
} else {
  console.error('usage: echo-server-process.js --impl kqueue|node');
  process.exit(2);
}
