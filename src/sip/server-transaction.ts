/**
 * Server transactions (RFC 3261 §17.2, with RFC 6026 for INVITE): they absorb
 * request retransmissions, resend the last response, and own Timers G–L.
 * Used for requests the far end sends inside our dialogs (BYE, INFO,
 * re-INVITE, UPDATE, OPTIONS, ...).
 */
import { InvalidStateError, TypedEmitter } from '../shared/index.js';
import { serializeMessage, type SipRequest, type SipResponse } from './message.js';
import type { TransactionContext } from './transaction.js';
import type { TransportAddress } from './transport.js';

export type InviteServerState = 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated';

/** §17.2.1 figure 7, with RFC 6026 §7.1 `accepted`. */
export const INVITE_SERVER_TRANSITIONS: Readonly<Record<InviteServerState, readonly InviteServerState[]>> = {
  proceeding: ['completed', 'accepted', 'terminated'],
  completed: ['confirmed', 'terminated'],
  accepted: ['terminated'],
  confirmed: ['terminated'],
  terminated: [],
};

export type NonInviteServerState = 'trying' | 'proceeding' | 'completed' | 'terminated';

/** §17.2.2 figure 8. */
export const NON_INVITE_SERVER_TRANSITIONS: Readonly<Record<NonInviteServerState, readonly NonInviteServerState[]>> = {
  trying: ['proceeding', 'completed', 'terminated'],
  proceeding: ['completed', 'terminated'],
  completed: ['terminated'],
  terminated: [],
};

export type ServerTransactionEvents = {
  /** Timer H fired: no ACK for a non-2xx final response to an INVITE. */
  timeout: [];
  transportError: [err: Error];
  terminated: [];
};

abstract class ServerTransactionBase<S extends string> extends TypedEmitter<ServerTransactionEvents> {
  readonly request: SipRequest;
  /** Where responses go (top Via `received`/`rport`, §18.2.2). */
  readonly responseAddress: TransportAddress;
  protected readonly ctx: TransactionContext;
  protected last: Buffer | undefined;
  /** The last response sent, if any. */
  lastResponse: SipResponse | undefined;
  #state: S;
  readonly #table: Readonly<Record<S, readonly S[]>>;
  readonly #timers = new Set<NodeJS.Timeout>();

  protected constructor(request: SipRequest, responseAddress: TransportAddress, ctx: TransactionContext, initial: S, table: Readonly<Record<S, readonly S[]>>) {
    super((event, err) => ctx.log.error({ err, event }, 'SIP transaction listener threw'));
    this.request = request;
    this.responseAddress = responseAddress;
    this.ctx = ctx;
    this.#state = initial;
    this.#table = table;
  }

  get state(): S {
    return this.#state;
  }

  protected transition(to: S): void {
    if (!this.#table[this.#state].includes(to)) throw new InvalidStateError(`server transaction: ${this.#state} → ${to}`);
    this.#state = to;
    if (to === 'terminated') {
      for (const t of this.#timers) clearTimeout(t);
      this.#timers.clear();
      this.emit('terminated');
    }
  }

  protected timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  protected transmit(data: Buffer): void {
    this.ctx.transport.sendRaw(data, this.responseAddress).catch((err: unknown) => {
      if (this.#state === 'terminated') return;
      this.emit('transportError', err instanceof Error ? err : new Error(String(err)));
      this.transition('terminated' as S);
    });
  }

  protected sendResponse(res: SipResponse): void {
    this.lastResponse = res;
    this.last = serializeMessage(res);
    this.transmit(this.last);
  }

  /** Terminates at once (shutdown). */
  terminate(): void {
    if (this.#state !== 'terminated') this.transition('terminated' as S);
  }

  /** The TU's response to the request. */
  abstract respond(res: SipResponse): void;
  /** A retransmission of the request arrived. */
  abstract receiveRetransmission(): void;
}

/** The non-INVITE server transaction (§17.2.2). */
export class NonInviteServerTransaction extends ServerTransactionBase<NonInviteServerState> {
  constructor(request: SipRequest, responseAddress: TransportAddress, ctx: TransactionContext) {
    super(request, responseAddress, ctx, 'trying', NON_INVITE_SERVER_TRANSITIONS);
  }

  respond(res: SipResponse): void {
    const s = this.state;
    if (s !== 'trying' && s !== 'proceeding') return;
    this.sendResponse(res);
    if (res.status < 200) {
      if (s === 'trying') this.transition('proceeding');
      return;
    }
    this.transition('completed');
    // Timer J: keep answering retransmissions for 64*T1 over UDP.
    this.timer(this.ctx.transport.reliable ? 0 : 64 * this.ctx.timers.t1, () => this.transition('terminated'));
  }

  receiveRetransmission(): void {
    // §17.2.2: resend the last response in Proceeding and Completed; Trying discards.
    if ((this.state === 'proceeding' || this.state === 'completed') && this.last) this.transmit(this.last);
  }
}

/**
 * The INVITE server transaction (§17.2.1, RFC 6026 §7.1). A 2xx moves it to
 * Accepted: the TU (the dialog) retransmits the 2xx until the ACK, which is a
 * separate transaction; this one only absorbs INVITE retransmissions (Timer L).
 */
export class InviteServerTransaction extends ServerTransactionBase<InviteServerState> {
  constructor(request: SipRequest, responseAddress: TransportAddress, ctx: TransactionContext) {
    super(request, responseAddress, ctx, 'proceeding', INVITE_SERVER_TRANSITIONS);
  }

  respond(res: SipResponse): void {
    if (this.state !== 'proceeding') return;
    this.sendResponse(res);
    const { t1, t2 } = this.ctx.timers;
    const reliable = this.ctx.transport.reliable;
    if (res.status < 200) return;
    if (res.status < 300) {
      this.transition('accepted');
      this.timer(64 * t1, () => this.transition('terminated')); // Timer L
      return;
    }
    this.transition('completed');
    if (!reliable) {
      // Timer G: retransmit the final response, doubling up to T2.
      const g = (interval: number): void => this.timer(interval, () => {
        if (this.state !== 'completed' || !this.last) return;
        this.transmit(this.last);
        g(Math.min(interval * 2, t2));
      });
      g(t1);
    }
    this.timer(64 * t1, () => { // Timer H
      if (this.state !== 'completed') return;
      this.emit('timeout');
      this.transition('terminated');
    });
  }

  /** The ACK for our non-2xx final response arrived (same branch). */
  receiveAck(): void {
    if (this.state !== 'completed') return;
    this.transition('confirmed');
    // Timer I: absorb ACK retransmissions.
    this.timer(this.ctx.transport.reliable ? 0 : this.ctx.timers.t4, () => this.transition('terminated'));
  }

  receiveRetransmission(): void {
    // Proceeding: resend the last provisional; Completed: the final. Accepted absorbs (RFC 6026).
    if ((this.state === 'proceeding' || this.state === 'completed') && this.last) this.transmit(this.last);
  }
}

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
