/**
 * Raw TCP / TLS clients on 127.0.0.1 for hostile-input tests: write bytes no
 * well-behaved client sends, and see what comes back and whether the server
 * hung up. Every socket is bounded in time and destroyed by its opener.
 */
import net from 'node:net';
import tls from 'node:tls';

/** Options of {@link rawExchange} and {@link holdOpen}. */
export interface RawOptions {
  port: number;
  /** Connect with TLS (no verification: the peer under test is the gateway itself). */
  tls?: boolean;
}

/** What {@link rawExchange} saw. */
export interface RawResult {
  /** Everything the server sent, latin1. */
  text: string;
  /** True when the server closed the connection (FIN or reset) before the deadline. */
  closedByPeer: boolean;
}

function connect(o: RawOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock: net.Socket = o.tls
      ? tls.connect({ port: o.port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(sock))
      : net.connect(o.port, '127.0.0.1', () => resolve(sock));
    sock.once('error', reject);
  });
}

/**
 * Connects, writes `chunks` in order, half-closes when `end` is set, then
 * collects the answer until the server closes or `waitMs` passes (then the
 * socket is destroyed from here).
 */
export async function rawExchange(o: RawOptions & { chunks: (string | Buffer)[]; end?: boolean; waitMs?: number }): Promise<RawResult> {
  const sock = await connect(o);
  let text = '';
  let closedByPeer = false;
  sock.on('data', (d: Buffer) => {
    // Bounded: a server answering without end must not fill the test's memory.
    if (text.length < 1 << 20) text += d.toString('latin1');
  });
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  const ended = new Promise<void>((resolve) => sock.once('end', () => resolve()));
  for (const c of o.chunks) {
    if (sock.destroyed) break;
    await new Promise<void>((resolve) => sock.write(c, () => resolve()));
  }
  if (o.end && !sock.destroyed) sock.end();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), o.waitMs ?? 5000)));
  const r = await Promise.race([Promise.race([closed, ended]).then(() => 'closed' as const), deadline]);
  clearTimeout(timer);
  closedByPeer = r === 'closed';
  sock.destroy();
  await closed;
  return { text, closedByPeer };
}

/** A connection held open after writing `chunks` (half a request, say); `close()` destroys it. */
export interface HeldSocket {
  socket: net.Socket;
  /** True once the server closed it. */
  readonly closedByPeer: boolean;
  /** What the server sent so far (latin1, the first MiB). */
  readonly received: string;
  close(): Promise<void>;
}

/** Connects, writes `chunks` and keeps the connection open until `close()`. */
export async function holdOpen(o: RawOptions & { chunks: (string | Buffer)[] }): Promise<HeldSocket> {
  const sock = await connect(o);
  let peerClosed = false;
  let closing = false;
  let received = '';
  sock.on('error', () => undefined);
  sock.on('data', (d: Buffer) => {
    if (received.length < 1 << 20) received += d.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => sock.once('close', () => {
    if (!closing) peerClosed = true;
    resolve();
  }));
  for (const c of o.chunks) sock.write(c);
  return {
    socket: sock,
    get closedByPeer() {
      return peerClosed;
    },
    get received() {
      return received;
    },
    close: async () => {
      closing = !peerClosed;
      sock.destroy();
      await closed;
    },
  };
}
