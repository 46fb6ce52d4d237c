/**
 * The SIP user agent: one transport, one transaction layer, the live calls.
 * This is the public shell the call layer uses (`invite()` → `SipClientCall`).
 */
import { networkInterfaces } from 'node:os';
import { ConflictError, InvalidStateError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { ALLOW, type CallContext, type InviteOptions } from './call-types.js';
import { SipClientCall } from './client-call.js';
import { newBranch, newTag } from './ids.js';
import { createResponse, getCallId, getTo, tagOf, type SipHeader, type SipRequest, type SipResponse } from './message.js';
import type { ServerTransaction } from './server-transaction.js';
import { TransactionLayer } from './transaction-layer.js';
import { DEFAULT_TIMERS, type TransactionTimers } from './transaction.js';
import { UdpTransport, type SipTransport, type TransportAddress } from './transport.js';

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
}

/** A SIP user agent client over UDP. */
export class SipUserAgent {
  /** The address advertised in Via and Contact. */
  readonly localAddress: TransportAddress;
  readonly #transport: SipTransport;
  readonly #layer: TransactionLayer;
  readonly #log: Logger;
  readonly #userAgent: string;
  readonly #timers: TransactionTimers;
  readonly #calls = new Map<string, SipClientCall>();
  #closing: Promise<void> | undefined;

  private constructor(opts: SipUserAgentOptions, transport: SipTransport) {
    this.#transport = transport;
    this.#log = opts.log;
    this.#userAgent = opts.userAgent;
    this.#timers = {
      t1: opts.timers?.t1Ms ?? DEFAULT_TIMERS.t1,
      t2: opts.timers?.t2Ms ?? DEFAULT_TIMERS.t2,
      t4: opts.timers?.t4Ms ?? DEFAULT_TIMERS.t4,
    };
    this.localAddress = advertisedAddress(opts.publicAddress, transport.boundAddress);
    this.#layer = new TransactionLayer(transport, this.#timers, opts.log);
    this.#layer.on('request', (req, stx) => this.#onRequest(req, stx));
    this.#layer.on('strayResponse', (res) => this.#onStrayResponse(res));
  }

  /** Binds the UDP socket and starts answering. */
  static async start(opts: SipUserAgentOptions): Promise<SipUserAgent> {
    const transport = await UdpTransport.open({ host: opts.host, port: opts.port, log: opts.log });
    const ua = new SipUserAgent(opts, transport);
    opts.log.info({ bound: transport.boundAddress, advertised: ua.localAddress }, 'SIP user agent listening');
    return ua;
  }

  /** Prepares an outgoing call; `start()` on the result sends the INVITE. Throws ParseError on a bad URI. */
  invite(opts: InviteOptions): SipClientCall {
    if (this.#closing) throw new InvalidStateError('SIP user agent is closed');
    if (this.#calls.has(opts.callId)) throw new ConflictError(`a SIP call with Call-ID ${opts.callId} exists`);
    const call = new SipClientCall(this.#context(), opts);
    this.#calls.set(opts.callId, call);
    return call;
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
      this.#calls.clear();
      this.#layer.close();
      await this.#transport.close();
    })();
    return this.#closing;
  }

  #context(): CallContext {
    const { host, port } = this.localAddress;
    const sentBy = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    return {
      layer: this.#layer,
      localAddress: this.localAddress,
      userAgent: this.#userAgent,
      timers: this.#timers,
      // RFC 3581: ask for rport so responses come back through NATs.
      newVia: () => `SIP/2.0/${this.#transport.protocol} ${sentBy};rport;branch=${newBranch()}`,
      onTerminated: (call) => {
        if (this.#calls.get(call.callId) === call) this.#calls.delete(call.callId);
      },
    };
  }

  #onRequest(req: SipRequest, stx: ServerTransaction | undefined): void {
    try {
      if (req.method === 'CANCEL') {
        // §9.2: we answer every request at once, so a CANCEL only gets its own 200 (or 481).
        if (!stx) return;
        if (this.#layer.findInviteServer(req)) this.#respond(stx, req, 200, 'OK');
        else this.#respond(stx, req, 481, 'Call/Transaction Does Not Exist');
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
      else if (req.method === 'INVITE') this.#respond(stx, req, 603, 'Decline'); // this gateway only places calls
      else this.#respond(stx, req, 405, 'Method Not Allowed', [{ name: 'Allow', value: ALLOW }]);
    } catch (err) {
      this.#log.debug({ err }, 'SIP request handling failed');
    }
  }

  #respond(stx: ServerTransaction, req: SipRequest, status: number, reason: string, headers: SipHeader[] = []): void {
    stx.respond(createResponse(req, status, reason, { toTag: newTag(), headers: [...headers, { name: 'Server', value: this.#userAgent }] }));
  }

  #onStrayResponse(res: SipResponse): void {
    try {
      this.#calls.get(getCallId(res))?.handleStrayResponse(res);
    } catch (err) {
      this.#log.debug({ err }, 'stray SIP response dropped');
    }
  }
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

function firstExternalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
