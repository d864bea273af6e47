/**
 * A TCP proxy for the network-pause test: forwards every connection to `target`, and on `pause()`
 * stops forwarding both ways on every connection (sockets stop reading, so bytes wait in the
 * kernel's buffers, as on a network partition: nothing is lost, nothing is closed, nothing arrives)
 * until `resume()`. A connection made while paused is accepted and left waiting likewise.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export class TcpProxy {
  private paused = false;
  private readonly sockets = new Set<Socket>();
  private readonly waiting: Socket[] = [];
  /** Connections forwarded so far. */
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((socket) => proxy!.accept(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    proxy = new TcpProxy(server, address.port, target);
    return proxy;
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.paused) {
      client.pause();
      this.waiting.push(client);
      return;
    }
    this.forward(client);
  }

  private forward(client: Socket): void {
    this.connections++;
    const upstream = connect(this.target.port, this.target.host);
    this.track(upstream);
    // Written by hand rather than piped: pipe() resumes a source on 'drain', which would undo a pause.
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => client.write(chunk));
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.resume();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  /** Stops forwarding, both ways, on every connection (new ones included). */
  pause(): void {
    this.paused = true;
    for (const socket of this.sockets) socket.pause();
  }

  resume(): void {
    this.paused = false;
    const waiting = new Set(this.waiting.splice(0));
    // A waiting connection has no 'data' listener yet: resumed before forward() adds one, its first
    // bytes would be dropped.
    for (const socket of this.sockets) if (!waiting.has(socket)) socket.resume();
    for (const client of waiting) this.forward(client);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}
