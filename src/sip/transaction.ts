/**
 * Client transactions (RFC 3261 §17.1, with the Accepted state of RFC 6026).
 * Each is an explicit state machine that owns its timers; the transport and
 * the timer values are injected.
 */
import { InvalidStateError, TypedEmitter, type Logger } from '../shared/index.js';
import { getHeaders, headerKey, serializeMessage, type SipRequest, type SipResponse } from './message.js';
import type { SipTransport, TransportAddress } from './transport.js';

/** RFC 3261 §17.1.1.1 timer values, in ms. */
export interface TransactionTimers {
  /** RTT estimate, 500 ms. */
  t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s. */
  t2: number;
  /** Maximum time a message stays in the network, 5 s. */
  t4: number;
}

export const DEFAULT_TIMERS: Readonly<TransactionTimers> = { t1: 500, t2: 4000, t4: 5000 };

export type ClientTransactionEvents = {
  /** Every response passed up to the TU (1xx, the final, and 2xx retransmissions for INVITE). */
  response: [res: SipResponse];
  /** Timer B / F fired: no final response. */
  timeout: [];
  /** The transport refused the request. */
  transportError: [err: Error];
  /** The transaction is over; the layer forgets it. */
  terminated: [];
};

/** Everything a transaction needs from outside, injected. */
export interface TransactionContext {
  transport: SipTransport;
  timers: TransactionTimers;
  log: Logger;
}

export type InviteClientState = 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/** §17.1.1.2 figure 5, with RFC 6026 §7.2 `accepted`. */
export const INVITE_CLIENT_TRANSITIONS: Readonly<Record<InviteClientState, readonly InviteClientState[]>> = {
  calling: ['proceeding', 'completed', 'accepted', 'terminated'],
  proceeding: ['completed', 'accepted', 'terminated'],
  completed: ['terminated'],
  accepted: ['terminated'],
  terminated: [],
};

export type NonInviteClientState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** §17.1.2.2 figure 6. */
export const NON_INVITE_CLIENT_TRANSITIONS: Readonly<Record<NonInviteClientState, readonly NonInviteClientState[]>> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

abstract class ClientTransactionBase<S extends string> extends TypedEmitter<ClientTransactionEvents> {
  readonly request: SipRequest;
  readonly destination: TransportAddress;
  protected readonly ctx: TransactionContext;
  protected readonly bytes: Buffer;
  #state: S;
  readonly #table: Readonly<Record<S, readonly S[]>>;
  readonly #timers = new Set<NodeJS.Timeout>();

  protected constructor(request: SipRequest, destination: TransportAddress, ctx: TransactionContext, initial: S, table: Readonly<Record<S, readonly S[]>>) {
    super((event, err) => ctx.log.error({ err, event }, 'SIP transaction listener threw'));
    this.request = request;
    this.destination = destination;
    this.ctx = ctx;
    this.bytes = serializeMessage(request);
    this.#state = initial;
    this.#table = table;
  }

  get state(): S {
    return this.#state;
  }

  protected transition(to: S): void {
    if (!this.#table[this.#state].includes(to)) throw new InvalidStateError(`client transaction: ${this.#state} → ${to}`);
    this.#state = to;
    if (to === 'terminated') {
      this.clearTimers();
      this.emit('terminated');
    }
  }

  protected timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  protected clearTimer(t: NodeJS.Timeout | undefined): void {
    if (t === undefined) return;
    clearTimeout(t);
    this.#timers.delete(t);
  }

  protected clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  protected transmit(data: Buffer): void {
    this.ctx.transport.sendRaw(data, this.destination).catch((err: unknown) => this.#onTransportError(err));
  }

  #onTransportError(err: unknown): void {
    if (this.#state === 'terminated') return;
    this.ctx.log.debug({ err, dest: this.destination }, 'SIP transport error');
    // §17.1.4: a transport failure is reported to the TU (as a 503 equivalent).
    this.clearTimers();
    this.emit('transportError', err instanceof Error ? err : new Error(String(err)));
    if (this.#state !== 'terminated') this.transition('terminated' as S);
  }

  /** Terminates at once, without events but `terminated` (used on shutdown). */
  terminate(): void {
    if (this.#state !== 'terminated') this.transition('terminated' as S);
  }

  abstract start(): void;
  abstract receive(res: SipResponse): void;
}

/** The INVITE client transaction (§17.1.1). */
export class InviteClientTransaction extends ClientTransactionBase<InviteClientState> {
  #timerA: NodeJS.Timeout | undefined;
  #timerB: NodeJS.Timeout | undefined;
  #ack: Buffer | undefined;

  constructor(request: SipRequest, destination: TransportAddress, ctx: TransactionContext) {
    super(request, destination, ctx, 'calling', INVITE_CLIENT_TRANSITIONS);
  }

  start(): void {
    this.transmit(this.bytes);
    const { t1 } = this.ctx.timers;
    if (!this.ctx.transport.reliable) this.#scheduleA(t1);
    this.#timerB = this.timer(64 * t1, () => {
      if (this.state !== 'calling') return;
      this.transition('terminated');
      this.emit('timeout');
    });
  }

  #scheduleA(interval: number): void {
    this.#timerA = this.timer(interval, () => {
      if (this.state !== 'calling') return;
      this.transmit(this.bytes);
      this.#scheduleA(interval * 2);
    });
  }

  receive(res: SipResponse): void {
    const s = this.state;
    if (res.status < 200) {
      if (s !== 'calling' && s !== 'proceeding') return;
      if (s === 'calling') {
        this.transition('proceeding');
        this.clearTimer(this.#timerA);
        this.clearTimer(this.#timerB);
      }
      this.emit('response', res);
    } else if (res.status < 300) {
      if (s === 'calling' || s === 'proceeding') {
        // RFC 6026 §7.2: stay to pass 2xx retransmissions to the TU, for 64*T1 (Timer M).
        this.transition('accepted');
        this.clearTimers();
        this.timer(64 * this.ctx.timers.t1, () => this.transition('terminated'));
        this.emit('response', res);
      } else if (s === 'accepted') this.emit('response', res);
    } else if (s === 'calling' || s === 'proceeding') {
      this.transition('completed');
      this.clearTimers();
      this.#ack = serializeMessage(buildNon2xxAck(this.request, res));
      this.transmit(this.#ack);
      // Timer D: absorb retransmitted finals; zero on reliable transports.
      this.timer(this.ctx.transport.reliable ? 0 : 64 * this.ctx.timers.t1, () => this.transition('terminated'));
      this.emit('response', res);
    } else if (s === 'completed' && this.#ack) {
      this.transmit(this.#ack); // §17.1.1.2: each retransmitted final gets the ACK again
    }
  }
}

/**
 * The ACK for a non-2xx final response (§17.1.1.3): same Request-URI,
 * Call-ID, From, CSeq number and top Via (branch) as the INVITE, To from the
 * response, and the INVITE's Route headers.
 */
export function buildNon2xxAck(invite: SipRequest, res: SipResponse): SipRequest {
  const headers: SipRequest['headers'] = [];
  const topVia = getHeaders(invite, 'Via')[0] ?? '';
  headers.push({ name: 'Via', value: topVia });
  for (const h of invite.headers) {
    const key = headerKey(h.name);
    if (key === 'max-forwards' || key === 'from' || key === 'call-id' || key === 'route') headers.push({ name: h.name, value: h.value });
  }
  headers.push({ name: 'To', value: getHeaders(res, 'To')[0] ?? '' });
  const cseq = getHeaders(invite, 'CSeq')[0] ?? '';
  headers.push({ name: 'CSeq', value: `${cseq.trim().split(/\s+/)[0] ?? '1'} ACK` });
  return { type: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

/** The non-INVITE client transaction (§17.1.2). */
export class NonInviteClientTransaction extends ClientTransactionBase<NonInviteClientState> {
  constructor(request: SipRequest, destination: TransportAddress, ctx: TransactionContext) {
    super(request, destination, ctx, 'trying', NON_INVITE_CLIENT_TRANSITIONS);
  }

  start(): void {
    this.transmit(this.bytes);
    const { t1 } = this.ctx.timers;
    if (!this.ctx.transport.reliable) this.#scheduleE(t1);
    this.timer(64 * t1, () => {
      if (this.state !== 'trying' && this.state !== 'proceeding') return;
      this.transition('terminated');
      this.emit('timeout');
    });
  }

  #scheduleE(interval: number): void {
    this.timer(interval, () => {
      const s = this.state;
      if (s !== 'trying' && s !== 'proceeding') return;
      this.transmit(this.bytes);
      // §17.1.2.2: doubling up to T2 while Trying; T2 once Proceeding.
      const t2 = this.ctx.timers.t2;
      this.#scheduleE(s === 'proceeding' ? t2 : Math.min(interval * 2, t2));
    });
  }

  receive(res: SipResponse): void {
    const s = this.state;
    if (s !== 'trying' && s !== 'proceeding') return;
    if (res.status < 200) {
      if (s === 'trying') this.transition('proceeding');
      this.emit('response', res);
      return;
    }
    this.transition('completed');
    this.clearTimers();
    // Timer K: absorb retransmitted finals; zero on reliable transports.
    this.timer(this.ctx.transport.reliable ? 0 : this.ctx.timers.t4, () => this.transition('terminated'));
    this.emit('response', res);
  }
}

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
