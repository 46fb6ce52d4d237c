/**
 * The SIP user agent: one transport, one transaction layer, the live calls.
 * This is the public shell the call layer uses (`invite()` → `SipClientCall`).
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ConflictError, InvalidStateError, type Logger } from '../shared/index.js';
import { ALLOW, type CallContext, type InviteOptions, type SizeSwitchPolicy } from './call-types.js';
import { sizeSwitchPolicy } from './size-switch.js';
import { SipClientCall } from './client-call.js';
import { SipServerCall, type IncomingOptions } from './server-call.js';
import { newBranch, newTag } from './ids.js';
import {
  createResponse, getCallId, getCSeq, getTo, serializeMessage, tagOf, type SipHeader, type SipMessage, type SipRequest, type SipResponse,
} from './message.js';
import type { ServerTransaction } from './server-transaction.js';
import { TransactionLayer } from './transaction-layer.js';
import { DEFAULT_TIMERS, type TransactionTimers } from './transaction.js';
import { UdpTransport, type SipTransport, type TransportAddress, type TransportProtocol } from './transport.js';
import { StreamTransport } from './stream-transport.js';
import { SipRegistration, type RegisterOptions } from './registration.js';

export { SipClientCall };
export type { InviteOptions, SipCallState, SipClientCallEvents } from './call-types.js';

export interface SipUserAgentOptions {
  /** Bind address, e.g. '0.0.0.0' or '127.0.0.1'. */
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /** Put in Via/Contact instead of the local address when set (`host` or `host:port`). */
  publicAddress: string | null;
  /** User-Agent header value. */
  userAgent: string;
  log: Logger;
  /** Timer overrides, for tests (RFC 3261 §17.1.1.1 T1, T2, T4). */
  timers?: { t1Ms?: number; t2Ms?: number; t4Ms?: number };
  /** Expiry asked for in REGISTER, seconds (`sip.registerExpiresS`). Default 3600. */
  registerExpiresS?: number;
  /** Transport of calls that name none (`sip.transport`). Default UDP. */
  transport?: TransportProtocol;
  /** Listen on TCP on the same port as UDP (default true); needed for TCP calls and the 1300-byte switch. */
  tcp?: boolean;
  /**
   * A UDP INVITE over 1300 bytes tries TCP with this connect timeout first,
   * then falls back to UDP (RFC 3261 §18.1.1). Default 2000 ms.
   */
  tcpSwitchConnectTimeoutMs?: number;
  /** How long a destination that did not take that TCP connection is sent UDP directly. Default 10 min. */
  tcpSwitchMemoryMs?: number;
  /** TLS (`sip.tls.*`): client always; a listener on `port` when a certificate and key are given. */
  tls?: {
    port: number;
    /** PEM file of extra trusted CAs, added to the system store. */
    caFile?: string | null;
    /** Verify far ends' certificates (default true). */
    verifyServer?: boolean;
    certFile?: string | null;
    keyFile?: string | null;
  };
}

/** A SIP user agent client over UDP. */
export class SipUserAgent {
  /** The address advertised in Via and Contact (of the UDP transport). */
  readonly localAddress: TransportAddress;
  /** Transport of calls that name none. */
  readonly defaultTransport: TransportProtocol;
  readonly #publicAddress: string | null;
  readonly #transports = new Map<TransportProtocol, SipTransport>();
  readonly #layers = new Map<TransportProtocol, TransactionLayer>();
  readonly #log: Logger;
  readonly #userAgent: string;
  readonly #timers: TransactionTimers;
  readonly #calls = new Map<string, SipClientCall | SipServerCall>();
  readonly #lastMessage = new WeakMap<SipClientCall | SipServerCall, string>();
  /**
   * Takes a far end's INVITE outside any dialog (incoming captures); without
   * one every such INVITE is declined (603). It answers or rejects the call.
   */
  onInvite: ((call: SipServerCall) => void) | undefined;
  /** Options of incoming calls (session timer, REFER policy); their logger is a child of the user agent's. */
  incoming: Omit<IncomingOptions, 'log'> = {};
  readonly #registrations = new Set<SipRegistration>();
  readonly #registerExpiresS: number;
  readonly #sizeSwitch: SizeSwitchPolicy;
  #closing: Promise<void> | undefined;

  private constructor(opts: SipUserAgentOptions, transports: SipTransport[]) {
    this.#log = opts.log;
    this.#publicAddress = opts.publicAddress;
    this.defaultTransport = opts.transport ?? 'UDP';
    this.#registerExpiresS = opts.registerExpiresS ?? 3600;
    this.#userAgent = opts.userAgent;
    this.#timers = {
      t1: opts.timers?.t1Ms ?? DEFAULT_TIMERS.t1,
      t2: opts.timers?.t2Ms ?? DEFAULT_TIMERS.t2,
      t4: opts.timers?.t4Ms ?? DEFAULT_TIMERS.t4,
    };
    this.#sizeSwitch = sizeSwitchPolicy(opts.tcpSwitchConnectTimeoutMs ?? 2000, opts.tcpSwitchMemoryMs ?? 600_000);
    const udp = transports[0];
    if (!udp) throw new InvalidStateError('no UDP transport');
    this.localAddress = advertisedAddress(opts.publicAddress, udp.boundAddress);
    for (const t of transports) {
      // Before the transaction layer's listener: a message is recorded before the change it causes is reported.
      t.on('message', (m: SipMessage) => this.#record(m));
      const layer = new TransactionLayer(t, this.#timers, opts.log);
      layer.on('request', (req, stx) => this.#onRequest(layer, req, stx));
      layer.on('strayResponse', (res) => this.#onStrayResponse(res));
      this.#transports.set(t.protocol, t);
      this.#layers.set(t.protocol, layer);
    }
  }

  /** Binds UDP (and TCP on the same port, and TLS when configured) and starts answering. */
  static async start(opts: SipUserAgentOptions): Promise<SipUserAgent> {
    const { udp, tcp } = await SipUserAgent.#openUdpAndTcp(opts);
    const transports: SipTransport[] = [udp];
    if (tcp) transports.push(tcp);
    try {
      const t = opts.tls;
      if (t) {
        const read = (f: string | null | undefined): string | undefined => (f ? readFileSync(f, 'utf8') : undefined);
        transports.push(await StreamTransport.open({
          protocol: 'TLS', host: opts.host, port: t.port, log: opts.log,
          tls: { ca: read(t.caFile), verifyServer: t.verifyServer ?? true, cert: read(t.certFile), key: read(t.keyFile) },
        }));
      }
    } catch (err) {
      for (const tr of transports) await tr.close();
      throw err;
    }
    const ua = new SipUserAgent(opts, transports);
    opts.log.info({ bound: udp.boundAddress, advertised: ua.localAddress, transports: [...ua.#transports.keys()] }, 'SIP user agent listening');
    return ua;
  }

  /**
   * UDP and TCP on one port number. With port 0 the kernel picks a free UDP
   * port whose TCP twin may be taken by some other socket: pick again (a few
   * times) rather than fail on a race no configuration can avoid.
   */
  static async #openUdpAndTcp(opts: SipUserAgentOptions): Promise<{ udp: SipTransport & { boundAddress: { port: number } }; tcp: SipTransport | null }> {
    for (let attempt = 0; ; attempt++) {
      const udp = await UdpTransport.open({ host: opts.host, port: opts.port, log: opts.log });
      if (!(opts.tcp ?? true)) return { udp, tcp: null };
      try {
        const tcp = await StreamTransport.open({ protocol: 'TCP', host: opts.host, port: udp.boundAddress.port, log: opts.log });
        return { udp, tcp };
      } catch (err) {
        await udp.close();
        const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
        if (!inUse || opts.port !== 0 || attempt >= 9) throw err;
      }
    }
  }

  /** The transports this user agent has. */
  get transports(): TransportProtocol[] {
    return [...this.#transports.keys()];
  }

  /** Prepares an outgoing call; `start()` on the result sends the INVITE. Throws ParseError on a bad URI. */
  invite(opts: InviteOptions): SipClientCall {
    if (this.#closing) throw new InvalidStateError('SIP user agent is closed');
    if (this.#calls.has(opts.callId)) throw new ConflictError(`a SIP call with Call-ID ${opts.callId} exists`);
    const protocol = opts.transport ?? uriTransport(opts.requestUri) ?? this.defaultTransport;
    const ctx = this.#context(protocol);
    if (!ctx) throw new InvalidStateError(`SIP transport ${protocol} is not enabled`);
    const call = new SipClientCall(ctx, opts);
    this.#calls.set(opts.callId, call);
    return call;
  }

  /** Prepares a registration; `register()` on the result sends the REGISTER. */
  register(opts: RegisterOptions): SipRegistration {
    if (this.#closing) throw new InvalidStateError('SIP user agent is closed');
    const protocol = opts.transport ?? this.defaultTransport;
    const ctx = this.#context(protocol);
    if (!ctx) throw new InvalidStateError(`SIP transport ${protocol} is not enabled`);
    const reg: SipRegistration = new SipRegistration(ctx, { ...opts, expiresS: opts.expiresS ?? this.#registerExpiresS }, () => {
      this.#registrations.delete(reg);
    });
    this.#registrations.add(reg);
    return reg;
  }

  /** Live calls (for diagnostics). */
  get callCount(): number {
    return this.#calls.size;
  }

  /** Ends every call's timers and transactions, then closes the socket (idempotent). */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const calls = [...this.#calls.values()];
    this.#closing = (async () => {
      for (const call of calls) call.destroy('User agent closed');
      for (const r of [...this.#registrations]) r.close();
      this.#calls.clear();
      for (const l of this.#layers.values()) l.close();
      for (const t of this.#transports.values()) await t.close();
    })();
    return this.#closing;
  }

  #context(protocol: TransportProtocol): CallContext | undefined {
    const layer = this.#layers.get(protocol);
    const transport = this.#transports.get(protocol);
    if (!layer || !transport) return undefined;
    // UDP and TCP share the port; TLS advertises its own (unless the public address pins one for all).
    const localAddress = protocol === 'TLS' && !/:\d+$/.test(this.#publicAddress ?? '')
      ? { host: this.localAddress.host, port: transport.boundAddress.port }
      : this.localAddress;
    const { host, port } = localAddress;
    const sentBy = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    return {
      protocol,
      layer,
      localAddress,
      userAgent: this.#userAgent,
      timers: this.#timers,
      // RFC 3581: ask for rport so responses come back through NATs.
      newVia: () => `SIP/2.0/${protocol} ${sentBy};rport;branch=${newBranch()}`,
      contextFor: (p) => this.#context(p),
      sizeSwitch: this.#sizeSwitch,
      onTerminated: (call) => {
        if (this.#calls.get(call.callId) === call) this.#calls.delete(call.callId);
      },
    };
  }

  #onRequest(layer: TransactionLayer, req: SipRequest, stx: ServerTransaction | undefined): void {
    try {
      if (req.method === 'CANCEL') {
        // §9.2: we answer every request at once, so a CANCEL only gets its own 200 (or 481).
        if (!stx) return;
        if (!layer.findInviteServer(req)) {
          this.#respond(stx, req, 481, 'Call/Transaction Does Not Exist');
          return;
        }
        this.#respond(stx, req, 200, 'OK');
        const incoming = this.#calls.get(getCallId(req));
        if (incoming instanceof SipServerCall) incoming.cancelled();
        return;
      }
      const call = this.#calls.get(getCallId(req));
      if (call) {
        call.handleRequest(req, stx);
        return;
      }
      if (!stx) return; // an ACK for nothing we know
      const inDialog = tagOf(getTo(req)) !== undefined;
      if (inDialog || req.method === 'BYE') this.#respond(stx, req, 481, 'Call/Transaction Does Not Exist');
      else if (req.method === 'OPTIONS') this.#respond(stx, req, 200, 'OK', [{ name: 'Accept', value: 'application/sdp' }, { name: 'Allow', value: ALLOW }]);
      else if (req.method === 'INVITE') this.#incoming(layer, req, stx);
      else this.#respond(stx, req, 405, 'Method Not Allowed', [{ name: 'Allow', value: ALLOW }]);
    } catch (err) {
      this.#log.debug({ err }, 'SIP request handling failed');
    }
  }

  /** A far end's new INVITE: a call for the handler, or 603 when nothing takes incoming calls (503 while closing). */
  #incoming(layer: TransactionLayer, req: SipRequest, stx: ServerTransaction): void {
    const handler = this.onInvite;
    if (handler === undefined || this.#closing) {
      this.#respond(stx, req, this.#closing ? 503 : 603, this.#closing ? 'Service Unavailable' : 'Decline');
      return;
    }
    const ctx = this.#context(layer.transport.protocol);
    if (!ctx) return;
    const call = new SipServerCall(ctx, req, stx, { ...this.incoming, log: this.#log.child({ sipCallId: getCallId(req) }) });
    this.#calls.set(call.callId, call);
    this.#lastMessage.set(call, rawWithoutCredentials(req));
    handler(call);
  }

  #respond(stx: ServerTransaction, req: SipRequest, status: number, reason: string, headers: SipHeader[] = []): void {
    stx.respond(createResponse(req, status, reason, { toTag: newTag(), headers: [...headers, { name: 'Server', value: this.#userAgent }] }));
  }

  /**
   * The last message received for a call that can change its state (a
   * response past 100 to its INVITE or BYE; a BYE, INVITE, UPDATE or CANCEL
   * from the far end), as text with credentials stripped: WCS's sipMessageRaw.
   */
  lastMessage(call: SipClientCall | SipServerCall): string | undefined {
    return this.#lastMessage.get(call);
  }

  #record(m: SipMessage): void {
    try {
      const call = this.#calls.get(getCallId(m));
      if (call === undefined) return;
      const changes = m.type === 'response'
        ? m.status > 100 && (getCSeq(m).method === 'INVITE' || getCSeq(m).method === 'BYE')
        : m.method === 'BYE' || m.method === 'INVITE' || m.method === 'UPDATE' || m.method === 'CANCEL';
      if (changes) this.#lastMessage.set(call, rawWithoutCredentials(m));
    } catch {
      // A message without a usable Call-ID or CSeq belongs to no call; the transaction layer drops it.
    }
  }

  #onStrayResponse(res: SipResponse): void {
    try {
      this.#calls.get(getCallId(res))?.handleStrayResponse(res);
    } catch (err) {
      this.#log.debug({ err }, 'stray SIP response dropped');
    }
  }
}

/** A message as text, the values of Authorization / Proxy-Authorization headers replaced (they carry digest credentials). */
function rawWithoutCredentials(m: SipMessage): string {
  const headers = m.headers.map((h) => (/^(proxy-)?authorization$/i.test(h.name) ? { name: h.name, value: '<stripped>' } : h));
  return serializeMessage({ ...m, headers }).toString('utf8');
}

/** The Via/Contact address: the configured public address, else the bound one (a real interface for a wildcard bind). */
function advertisedAddress(publicAddress: string | null, bound: TransportAddress): TransportAddress {
  if (publicAddress) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(publicAddress) ?? /^([^:]+)(?::(\d+))?$/.exec(publicAddress);
    if (m) return { host: m[1] ?? publicAddress, port: m[2] ? Number(m[2]) : bound.port };
    return { host: publicAddress, port: bound.port };
  }
  if (bound.host === '0.0.0.0' || bound.host === '::') return { host: firstExternalIPv4() ?? '127.0.0.1', port: bound.port };
  return bound;
}

/** The transport a Request-URI asks for (RFC 3261 §19.1.2: `sips:` → TLS, `;transport=`). */
function uriTransport(uri: string): TransportProtocol | undefined {
  if (/^sips:/i.test(uri)) return 'TLS';
  const m = /;transport=(udp|tcp|tls)\b/i.exec(uri);
  return m ? (m[1]?.toUpperCase() as TransportProtocol) : undefined;
}

function firstExternalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
