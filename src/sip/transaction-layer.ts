/**
 * The transaction layer (RFC 3261 §17): matches incoming messages to client
 * and server transactions (§17.1.3, §17.2.3) and hands the rest to the TU.
 */
import { TypedEmitter, type Logger } from '../shared/index.js';
import { BRANCH_COOKIE } from './headers.js';
import { getCallId, getCSeq, getFrom, getTo, getTopVia, tagOf, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { InviteServerTransaction, NonInviteServerTransaction, type ServerTransaction } from './server-transaction.js';
import {
  InviteClientTransaction, NonInviteClientTransaction, type ClientTransaction, type TransactionContext, type TransactionTimers,
} from './transaction.js';
import { responseAddress, type SipTransport, type TransportAddress } from './transport.js';
import { SourceRateLimiter, type RateLimitOptions } from './rate-limit.js';

/** Server transactions alive at once; past it new requests are dropped (each holds timers and a response). */
export const MAX_SERVER_TRANSACTIONS = 2000;
/** Out-of-dialog requests (no To tag) per source address: 20/s sustained, bursts of 40. */
export const DEFAULT_REQUEST_RATE: RateLimitOptions = { perSecond: 20, burst: 40 };

export type TransactionLayerEvents = {
  /**
   * A new request for the TU. `stx` is the server transaction to answer
   * through; undefined for an ACK that matched no transaction (an ACK for a 2xx).
   */
  request: [req: SipRequest, stx: ServerTransaction | undefined, from: TransportAddress];
  /** A response that matched no client transaction (e.g. a late 2xx retransmission). */
  strayResponse: [res: SipResponse, from: TransportAddress];
};

/** Routes messages between one transport, the transactions and the TU. */
export class TransactionLayer extends TypedEmitter<TransactionLayerEvents> {
  readonly transport: SipTransport;
  readonly timers: TransactionTimers;
  readonly #ctx: TransactionContext;
  readonly #log: Logger;
  readonly #clients = new Map<string, ClientTransaction>();
  readonly #servers = new Map<string, ServerTransaction>();
  readonly #onMessage = (msg: SipMessage, from: TransportAddress): void => this.#dispatch(msg, from);
  readonly #limiter: SourceRateLimiter;
  /** Requests dropped by the rate limit or the transaction cap (for tests and logs). */
  dropped = 0;
  #closed = false;

  constructor(transport: SipTransport, timers: TransactionTimers, log: Logger, rate: RateLimitOptions = DEFAULT_REQUEST_RATE) {
    super((event, err) => log.error({ err, event }, 'SIP transaction layer listener threw'));
    this.transport = transport;
    this.timers = timers;
    this.#log = log;
    this.#ctx = { transport, timers, log };
    this.#limiter = new SourceRateLimiter(rate);
    transport.on('message', this.#onMessage);
  }

  /** Starts an INVITE client transaction; the request's top Via must carry a fresh branch. */
  sendInvite(req: SipRequest, to: TransportAddress): InviteClientTransaction {
    const tx = new InviteClientTransaction(req, to, this.#ctx);
    this.#registerClient(tx);
    tx.start();
    return tx;
  }

  /** Starts a non-INVITE client transaction (BYE, CANCEL, INFO, ...). */
  sendNonInvite(req: SipRequest, to: TransportAddress): NonInviteClientTransaction {
    const tx = new NonInviteClientTransaction(req, to, this.#ctx);
    this.#registerClient(tx);
    tx.start();
    return tx;
  }

  /** Sends outside any transaction (the ACK for a 2xx, §13.2.2.4). */
  sendStateless(msg: SipMessage, to: TransportAddress): Promise<void> {
    return this.transport.send(msg, to);
  }

  /** The INVITE server transaction a CANCEL refers to (§9.2), if still alive. */
  findInviteServer(cancel: SipRequest): InviteServerTransaction | undefined {
    const tx = this.#servers.get(serverKey(cancel, 'INVITE'));
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  /** Number of live transactions (for tests and metrics). */
  get size(): number {
    return this.#clients.size + this.#servers.size;
  }

  /** Terminates every transaction and detaches from the transport (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.transport.off('message', this.#onMessage);
    for (const tx of [...this.#clients.values()]) tx.terminate();
    for (const tx of [...this.#servers.values()]) tx.terminate();
    this.#clients.clear();
    this.#servers.clear();
  }

  #registerClient(tx: ClientTransaction): void {
    const key = clientKey(tx.request);
    this.#clients.set(key, tx);
    tx.once('terminated', () => {
      if (this.#clients.get(key) === tx) this.#clients.delete(key);
    });
  }

  #dispatch(msg: SipMessage, from: TransportAddress): void {
    if (this.#closed) return;
    try {
      if (msg.type === 'response') this.#onResponse(msg, from);
      else this.#onRequest(msg, from);
    } catch (err) {
      this.#log.debug({ err, from }, 'dropped SIP message');
    }
  }

  #onResponse(res: SipResponse, from: TransportAddress): void {
    const tx = this.#clients.get(clientKey(res));
    if (tx) tx.receive(res);
    else this.emit('strayResponse', res, from);
  }

  #onRequest(req: SipRequest, from: TransportAddress): void {
    if (req.method === 'ACK') {
      const tx = this.#servers.get(serverKey(req, 'INVITE'));
      if (tx instanceof InviteServerTransaction && tx.state !== 'accepted') {
        tx.receiveAck();
        return;
      }
      this.emit('request', req, undefined, from);
      return;
    }
    const key = serverKey(req, req.method);
    const existing = this.#servers.get(key);
    if (existing) {
      existing.receiveRetransmission();
      return;
    }
    // A flood from one source, or from many, costs nothing but the parse: dropped without an answer
    // (an answer would be a reflection). In-dialog requests (To tag) are matched to their dialog cheaply.
    const outOfDialog = tagOf(getTo(req)) === undefined;
    if (this.#servers.size >= MAX_SERVER_TRANSACTIONS || (outOfDialog && !this.#limiter.allow(from.host, Date.now()))) {
      if (this.dropped++ % 1000 === 0) {
        this.#log.warn({ from: from.host, dropped: this.dropped, transactions: this.#servers.size }, 'SIP request dropped: rate limit or transaction cap');
      }
      return;
    }
    const to = responseAddress(req, from);
    const stx = req.method === 'INVITE' ? new InviteServerTransaction(req, to, this.#ctx) : new NonInviteServerTransaction(req, to, this.#ctx);
    this.#servers.set(key, stx);
    stx.once('terminated', () => {
      if (this.#servers.get(key) === stx) this.#servers.delete(key);
    });
    this.emit('request', req, stx, from);
  }
}

/** §17.1.3: branch of the top Via plus the CSeq method. */
function clientKey(msg: SipMessage): string {
  const branch = getTopVia(msg).params.get('branch') ?? '';
  return `${branch}|${getCSeq(msg).method}`;
}

/**
 * §17.2.3: branch + sent-by + method for RFC 3261 branches; otherwise the
 * RFC 2543 fallback of Call-ID, From tag and CSeq number.
 */
function serverKey(req: SipRequest, method: string): string {
  const via = getTopVia(req);
  const branch = via.params.get('branch') ?? '';
  if (branch.startsWith(BRANCH_COOKIE)) return `${branch}|${via.host}:${via.port ?? ''}|${method}`;
  return `2543|${getCallId(req)}|${tagOf(getFrom(req)) ?? ''}|${getCSeq(req).seq}|${method}`;
}
