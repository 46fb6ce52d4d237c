/**
 * SIP over TCP and TLS (RFC 3261 §18, RFC 5630 for TLS): a listener (TCP
 * always; TLS when a certificate is configured) and a pool of connections
 * keyed by remote address. Outgoing requests reuse a connection to the same
 * address or open one; responses go back on the connection the request came
 * in on (§18.2.2). TLS verifies the server against the system store plus an
 * optional CA, on by default.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type Logger, TypedEmitter } from '../shared/index.js';
import { createResponse, parseMessage, serializeMessage, type SipMessage } from './message.js';
import { StreamFramer } from './stream-framer.js';
import { salvageRequest, stampVia, type SipTransport, type SipTransportEvents, type TransportAddress } from './transport.js';

export interface TlsClientOptions {
  /** Extra trusted CA certificates (PEM), added to the system store. */
  ca?: string;
  /** Verify the server's certificate and name (default true). */
  verifyServer?: boolean;
  /** Server certificate and key (PEM) for the TLS listener; without them TLS is client-only. */
  cert?: string;
  key?: string;
}

export interface StreamTransportOptions {
  protocol: 'TCP' | 'TLS';
  host: string;
  port: number;
  log: Logger;
  tls?: TlsClientOptions;
  /** An inbound connection idle this long is closed; a half-received message this long too. Default 300 s / 30 s. */
  idleTimeoutMs?: number;
  partialTimeoutMs?: number;
  /** Most inbound connections at once. Default 1000. */
  maxInbound?: number;
  connectTimeoutMs?: number;
}

interface Conn {
  socket: net.Socket;
  ready: Promise<void>;
  inbound: boolean;
  framer: StreamFramer;
  partialTimer: NodeJS.Timeout | undefined;
}

const key = (a: TransportAddress): string => `${a.host.replace(/^::ffff:/, '')}:${a.port}`;

/** A connection-oriented SIP transport. */
export class StreamTransport extends TypedEmitter<SipTransportEvents> implements SipTransport {
  readonly protocol: 'TCP' | 'TLS';
  readonly reliable = true;
  readonly #server: net.Server | undefined;
  readonly #bound: TransportAddress;
  readonly #log: Logger;
  readonly #opts: StreamTransportOptions;
  readonly #conns = new Map<string, Conn>();
  #inbound = 0;
  #closing: Promise<void> | undefined;

  private constructor(opts: StreamTransportOptions, server: net.Server | undefined, bound: TransportAddress) {
    super((event, err) => opts.log.error({ err, event }, 'SIP transport listener threw'));
    this.protocol = opts.protocol;
    this.#opts = opts;
    this.#log = opts.log;
    this.#server = server;
    this.#bound = bound;
    server?.on('connection', (s: net.Socket) => this.#onInbound(s));
    server?.on('secureConnection', (s: tls.TLSSocket) => this.#onInbound(s));
    server?.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'TLS handshake from a client failed'));
    server?.on('error', (err) => this.#log.warn({ err }, 'SIP stream listener error'));
  }

  /** Listens on `host:port` (TCP, or TLS with a certificate); TLS without one is client-only. */
  static async open(opts: StreamTransportOptions): Promise<StreamTransport> {
    const listen = opts.protocol === 'TCP' || (opts.tls?.cert !== undefined && opts.tls.key !== undefined);
    if (!listen) return new StreamTransport(opts, undefined, { host: opts.host, port: opts.port });
    const server = opts.protocol === 'TCP'
      ? net.createServer()
      : tls.createServer({ cert: opts.tls?.cert, key: opts.tls?.key });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as net.AddressInfo;
    return new StreamTransport(opts, server, { host: a.address, port: a.port });
  }

  get boundAddress(): TransportAddress {
    return this.#bound;
  }

  /** Open connections (for tests and diagnostics). */
  get connectionCount(): number {
    return this.#conns.size;
  }

  send(msg: SipMessage, to: TransportAddress): Promise<void> {
    let data: Buffer;
    try {
      data = serializeMessage(msg);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return this.sendRaw(data, to);
  }

  async sendRaw(data: Buffer, to: TransportAddress): Promise<void> {
    if (this.#closing) throw new Error('SIP transport closed');
    const conn = this.#conns.get(key(to)) ?? this.#connect(to);
    await conn.ready;
    await new Promise<void>((resolve, reject) => {
      conn.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  async preconnect(to: TransportAddress, timeoutMs: number): Promise<void> {
    if (this.#closing) throw new Error('SIP transport closed');
    await (this.#conns.get(key(to)) ?? this.#connect(to, timeoutMs)).ready;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const c of this.#conns.values()) this.#drop(c);
      this.#conns.clear();
      if (this.#server) this.#server.close(() => resolve());
      else resolve();
    });
    return this.#closing;
  }

  #connect(to: TransportAddress, timeoutMs = this.#opts.connectTimeoutMs ?? 10_000): Conn {
    const t = this.#opts.tls;
    const socket = this.protocol === 'TLS'
      ? tls.connect({
        host: to.host,
        port: to.port,
        // RFC 5922 §7: the server's identity is the host we meant to reach; no SNI for an address.
        servername: net.isIP(to.host) ? undefined : to.host,
        ca: t?.ca === undefined ? undefined : [...tls.rootCertificates, t.ca],
        rejectUnauthorized: t?.verifyServer ?? true,
      })
      : net.connect({ host: to.host, port: to.port });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error(`SIP ${this.protocol} connect to ${key(to)} timed out`)), timeoutMs);
      socket.once(this.protocol === 'TLS' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    ready.catch((err: unknown) => this.#log.warn({ err: (err as Error).message, to, protocol: this.protocol }, 'SIP connection failed'));
    const conn = this.#attach(socket, to, false, ready);
    return conn;
  }

  #onInbound(socket: net.Socket): void {
    if (this.#closing || this.#inbound >= (this.#opts.maxInbound ?? 1000)) {
      socket.destroy();
      return;
    }
    const from = { host: (socket.remoteAddress ?? '').replace(/^::ffff:/, ''), port: socket.remotePort ?? 0 };
    this.#inbound++;
    socket.setTimeout(this.#opts.idleTimeoutMs ?? 300_000, () => socket.destroy());
    this.#attach(socket, from, true, Promise.resolve());
  }

  #attach(socket: net.Socket, remote: TransportAddress, inbound: boolean, ready: Promise<void>): Conn {
    const k = key(remote);
    const conn: Conn = { socket, ready, inbound, framer: new StreamFramer(), partialTimer: undefined };
    this.#conns.set(k, conn);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, remote, chunk));
    socket.on('error', (err) => this.#log.debug({ err: err.message, remote }, 'SIP connection error'));
    socket.on('close', () => {
      clearTimeout(conn.partialTimer);
      if (inbound) this.#inbound--;
      if (this.#conns.get(k) === conn) this.#conns.delete(k);
    });
    return conn;
  }

  #onData(conn: Conn, remote: TransportAddress, chunk: Buffer): void {
    let frames;
    try {
      frames = conn.framer.push(chunk);
    } catch (err) {
      // The stream cannot be framed any more: answer 400 if we can, then close (§18.3).
      this.#log.info({ err: (err as Error).message, remote }, 'unframeable SIP stream, closing the connection');
      this.#badRequest(conn, remote, chunk);
      conn.socket.end();
      setTimeout(() => conn.socket.destroy(), 1000).unref();
      return;
    }
    // A half-sent message must not hold the connection forever (hostile or broken peer). The deadline runs
    // from the first byte of the message: a peer trickling a byte now and then does not push it back.
    const started = frames.length > 0 || conn.partialTimer === undefined;
    if (conn.framer.pending === 0 || started) {
      clearTimeout(conn.partialTimer);
      conn.partialTimer = undefined;
    }
    if (conn.framer.pending > 0 && started) {
      conn.partialTimer = setTimeout(() => {
        this.#log.info({ remote }, 'incomplete SIP message on a connection, closing it');
        conn.socket.destroy();
      }, this.#opts.partialTimeoutMs ?? 30_000);
    }
    for (const f of frames) {
      if (f.kind === 'ping') {
        conn.socket.write('\r\n'); // RFC 5626 §3.5.1 pong
        continue;
      }
      let msg: SipMessage;
      try {
        msg = parseMessage(f.data);
      } catch (err) {
        this.#log.info({ err: (err as Error).message, remote, bytes: f.data.length }, 'dropped unparseable SIP message');
        this.#badRequest(conn, remote, f.data);
        continue;
      }
      try {
        if (msg.type === 'request') stampVia(msg, remote, true);
        this.emit('message', msg, remote);
      } catch (err) {
        this.#log.debug({ err, remote }, 'dropped SIP message');
      }
    }
  }

  #badRequest(conn: Conn, remote: TransportAddress, data: Buffer): void {
    try {
      const req = salvageRequest(data);
      if (!req || req.method === 'ACK') return;
      conn.socket.write(serializeMessage(createResponse(req, 400, 'Bad Request', { toTag: 'bad' })));
    } catch {
      this.#log.debug({ remote }, 'no 400 possible for a broken SIP message');
    }
  }

  #drop(c: Conn): void {
    clearTimeout(c.partialTimer);
    c.socket.destroy();
  }
}
