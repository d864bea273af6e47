/**
 * A TCP proxy for the network-pause test: forwards every connection to `target`, and on `pause()`
 * stops forwarding both ways on every connection (sockets stop reading, so bytes wait in the
 * kernel's buffers, as on a network partition: nothing is lost, nothing is closed, nothing arrives)
 * until `resume()`. A connection made while paused is accepted and left waiting likewise.
 * `pauseAfterClientSends(bytes)` pauses at a precise point: right after a client sent a statement
 * (matched by bytes of its text or prepared-statement name), which the server then runs.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export class TcpProxy {
  private paused = false;
  private readonly sockets = new Set<Socket>();
  private readonly waiting: Socket[] = [];
  /** Connections forwarded so far. */
  connections = 0;
  private trigger?: { bytes: string; fired: () => void };

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const accepted: Socket[] = [];
    const ready: { proxy?: TcpProxy } = {};
    const server = createServer((socket) =>
      ready.proxy ? ready.proxy.accept(socket) : accepted.push(socket),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const proxy = new TcpProxy(server, address.port, target);
    ready.proxy = proxy;
    for (const socket of accepted) proxy.accept(socket);
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
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (this.trigger && chunk.includes(this.trigger.bytes)) {
        const { fired } = this.trigger;
        this.trigger = undefined;
        this.pause();
        fired();
      }
    });
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

  /**
   * Pauses as soon as a client sends bytes containing `bytes` (that chunk is forwarded first: the
   * server runs the statement, its answer is held). Resolves once paused.
   */
  pauseAfterClientSends(bytes: string): Promise<void> {
    return new Promise((resolve) => (this.trigger = { bytes, fired: resolve }));
  }

  resume(): void {
    this.trigger = undefined;
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
