/**
 * SIP transports (RFC 3261 §18). `SipTransport` is what the transaction layer
 * talks to; `UdpTransport` is the datagram shell. TCP/TLS transports add
 * stream framing behind the same interface.
 */
import { createSocket, type Socket } from 'node:dgram';
import { type Logger, TypedEmitter } from '../shared/index.js';
import { formatVia, parseVia } from './headers.js';
import { createResponse, getHeader, headerKey, parseMessage, serializeMessage, type SipHeader, type SipMessage, type SipRequest } from './message.js';

/** A transport-level address. */
export interface TransportAddress {
  host: string;
  port: number;
}

export type TransportProtocol = 'UDP' | 'TCP' | 'TLS';

export type SipTransportEvents = {
  /** A parsed message and where it came from. Requests have `received`/`rport` filled in their top Via. */
  message: [msg: SipMessage, from: TransportAddress];
  /** A socket-level error (the transport stays usable unless closed). */
  error: [err: Error];
};

/** The transport seen by the transaction layer. */
export interface SipTransport {
  readonly protocol: TransportProtocol;
  /** True for TCP/TLS: no retransmission timers (RFC 3261 §17.1.1.2). */
  readonly reliable: boolean;
  /** The bound local address (may be a wildcard address). */
  readonly boundAddress: TransportAddress;
  /** Serializes and sends; rejects on a transport error. */
  send(msg: SipMessage, to: TransportAddress): Promise<void>;
  /** Sends bytes already serialized (retransmissions). */
  sendRaw(data: Buffer, to: TransportAddress): Promise<void>;
  /**
   * Streams only: opens (or reuses) a connection to `to`, giving up after
   * `timeoutMs`. Used before a request leaves UDP for its size (§18.1.1), so
   * a far end that drops TCP SYNs costs a short wait, not a call.
   */
  preconnect?(to: TransportAddress, timeoutMs: number): Promise<void>;
  on<K extends keyof SipTransportEvents>(event: K, listener: (...args: SipTransportEvents[K]) => void): unknown;
  off<K extends keyof SipTransportEvents>(event: K, listener: (...args: SipTransportEvents[K]) => void): unknown;
  close(): Promise<void>;
}

/** Largest UDP payload; bigger messages cannot be sent as one datagram. */
const MAX_DATAGRAM = 65507;
/** RFC 3261 §18.1.1: above this a request should go over a congestion-controlled transport. */
export const PATH_MTU_BUDGET = 1300;

export interface UdpTransportOptions {
  host: string;
  port: number;
  log: Logger;
}

/** SIP over UDP on one socket. */
export class UdpTransport extends TypedEmitter<SipTransportEvents> implements SipTransport {
  readonly protocol = 'UDP' as const;
  readonly reliable = false;
  readonly #socket: Socket;
  readonly #log: Logger;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(socket: Socket, log: Logger) {
    super((event, err) => log.error({ err, event }, 'SIP transport listener threw'));
    this.#socket = socket;
    this.#log = log;
    socket.on('message', (buf, rinfo) => this.#onDatagram(buf, { host: rinfo.address, port: rinfo.port }));
    socket.on('error', (err) => {
      this.#log.warn({ err }, 'SIP UDP socket error');
      this.emit('error', err);
    });
  }

  /** Binds `host:port` (port 0 picks a free port). */
  static open(opts: UdpTransportOptions): Promise<UdpTransport> {
    const socket = createSocket({ type: opts.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind(opts.port, opts.host, () => {
        socket.off('error', onError);
        resolve(new UdpTransport(socket, opts.log));
      });
    });
  }

  get boundAddress(): TransportAddress {
    const a = this.#socket.address();
    return { host: a.address, port: a.port };
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

  sendRaw(data: Buffer, to: TransportAddress): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('SIP transport closed'));
    if (data.length > MAX_DATAGRAM) return Promise.reject(new Error(`SIP message of ${data.length} bytes does not fit a datagram`));
    if (data.length > PATH_MTU_BUDGET) this.#log.debug({ bytes: data.length }, 'SIP message above the path MTU budget sent over UDP');
    return new Promise((resolve, reject) => {
      this.#socket.send(data, to.port, to.host, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
    return this.#closing;
  }

  #onDatagram(buf: Buffer, from: TransportAddress): void {
    if (this.#closed) return;
    // RFC 5626 §3.5.1 keep-alives: CRLF / CRLFCRLF pings carry no message.
    if (isOnlyWhitespace(buf)) return;
    let msg: SipMessage;
    try {
      msg = parseMessage(buf);
    } catch (err) {
      this.#log.debug({ err, from, bytes: buf.length }, 'dropped unparseable SIP datagram');
      this.#answerBadRequest(buf, from);
      return;
    }
    try {
      if (msg.type === 'request') stampVia(msg, from);
      this.emit('message', msg, from);
    } catch (err) {
      this.#log.debug({ err, from }, 'dropped SIP datagram');
    }
  }

  /** RFC 3261 §8.2: answer 400 when the request is parseable enough to route a response. */
  #answerBadRequest(buf: Buffer, from: TransportAddress): void {
    try {
      const req = salvageRequest(buf);
      if (!req || req.method === 'ACK') return;
      stampVia(req, from);
      const res = createResponse(req, 400, 'Bad Request', { toTag: 'bad' });
      void this.send(res, responseAddress(req, from)).catch(() => undefined);
    } catch {
      // not even that: silently dropped (already logged)
    }
  }
}

export function isOnlyWhitespace(buf: Buffer): boolean {
  for (const b of buf) if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09) return false;
  return true;
}

/**
 * RFC 3261 §18.2.1 and RFC 3581 §4: record the source address in the top Via
 * (`received`, and `rport` when the client asked for it) so responses go back
 * where the request came from. A `received` or `rport` value the request
 * already carries is never trusted: it is overwritten with what we saw, or a
 * stranger could aim our responses (and their retransmissions) at anyone.
 */
export function stampVia(req: SipRequest, from: TransportAddress, force = false): void {
  const i = req.headers.findIndex((h) => headerKey(h.name) === 'via');
  const line = req.headers[i];
  if (!line) return;
  const [top = '', ...rest] = splitTopVia(line.value);
  const via = parseVia(top);
  // Over a stream the response goes back on the connection (§18.2.2): record its address whatever the client asked.
  if (via.params.has('rport') || force) via.params.set('rport', String(from.port));
  if (via.host !== from.host || via.params.has('rport') || via.params.has('received')) via.params.set('received', from.host);
  line.value = [formatVia(via), ...rest].join(', ');
}

function splitTopVia(value: string): string[] {
  const comma = value.indexOf(',');
  return comma < 0 ? [value] : [value.slice(0, comma), value.slice(comma + 1).trim()];
}

/** Where a response to `req` goes (RFC 3261 §18.2.2, RFC 3581 §4). */
export function responseAddress(req: SipRequest, fallback: TransportAddress): TransportAddress {
  const v = getHeader(req, 'Via');
  if (v === undefined) return fallback;
  const via = parseVia(v);
  const received = via.params.get('received');
  const rport = via.params.get('rport');
  const host = received ?? via.host;
  const port = rport ? Number(rport) : via.port ?? 5060;
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port };
}

/** A lenient parse of a broken request's head, enough to build a 400 (or undefined). */
export function salvageRequest(buf: Buffer): SipRequest | undefined {
  const text = buf.toString('utf8', 0, Math.min(buf.length, 8192));
  const end = text.search(/\r?\n\r?\n/);
  const lines = (end < 0 ? text : text.slice(0, end)).split(/\r?\n/);
  const m = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers: SipHeader[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const key = headerKey(name);
    if (key === 'via' || key === 'from' || key === 'to' || key === 'call-id' || key === 'cseq') {
      headers.push({ name: headerKey(name) === 'call-id' ? 'Call-ID' : name.length === 1 ? key : name, value: line.slice(colon + 1).trim() });
    }
  }
  const needed = ['via', 'from', 'to', 'call-id', 'cseq'];
  if (!needed.every((k) => headers.some((h) => headerKey(h.name) === k))) return undefined;
  const req: SipRequest = { type: 'request', method: m[1] ?? '', uri: m[2] ?? '', headers, body: Buffer.alloc(0) };
  parseVia(getHeader(req, 'Via') ?? '');
  return req;
}
