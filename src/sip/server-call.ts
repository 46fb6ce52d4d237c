/**
 * One incoming call (the UAS core of RFC 3261 §13.3, §12.1.1): a far end's
 * INVITE answered by us — 180, then our 2xx with the SDP answer (retransmitted
 * until the ACK, §13.3.1.4) or a final refusal; its CANCEL (487); then the
 * dialog's requests both ways (DialogRequests: BYE, INFO, re-INVITE/UPDATE,
 * REFER, our BYE/INFO/REFER, the session timer of RFC 4028) exactly as for a
 * call we place. Created by the user agent for an INVITE outside any dialog
 * when an incoming-call handler is set.
 */
import { InvalidStateError, TypedEmitter, type Logger } from '../shared/index.js';
import { ALLOW_HEADERS, type CallContext, type SipCallState, type SipClientCallEvents } from './call-types.js';
import { Dialog } from './dialog.js';
import { initialCSeq, newTag } from './ids.js';
import { DialogRequests, sdpOf } from './in-dialog.js';
import { createResponse, getCallId, getTo, tagOf, type SipHeader, type SipRequest, type SipResponse } from './message.js';
import type { ServerTransaction } from './server-transaction.js';
import type { TransportAddress } from './transport.js';

export interface IncomingOptions {
  log: Logger;
  /** Smallest session interval taken (RFC 4028 Min-SE), seconds. */
  minSessionExpiresS?: number;
  /** How a far end's REFER is refused. */
  incomingReferStatus?: number;
}

export class SipServerCall extends TypedEmitter<SipClientCallEvents> {
  readonly callId: string;
  readonly invite: SipRequest;
  /** The far end's offer (undefined for an INVITE without SDP, which we refuse). */
  readonly offer: string | undefined;
  /** Where the INVITE came from (its top Via's received/rport, as the transaction layer set them). */
  readonly source: TransportAddress;
  /** The user part the far end dialled (Request-URI). */
  readonly userPart: string;
  /** Set by the call layer: our SDP answer to a far-end re-INVITE/UPDATE offer. */
  answerSdp: (offer: string | undefined) => string = () => {
    throw new InvalidStateError('no SDP yet');
  };
  readonly log: Logger;
  contact: string;
  readonly cancelReason = undefined;
  readonly #ctx: CallContext;
  readonly #stx: ServerTransaction;
  readonly #tag = newTag();
  readonly #inDialog: DialogRequests;
  #dialog: Dialog | undefined;
  #state: SipCallState = 'proceeding';
  #done = false;
  readonly #finished: Promise<void>;
  #resolveFinished: () => void = () => undefined;

  /** @internal Use the user agent's incoming-call handler. */
  constructor(ctx: CallContext, invite: SipRequest, stx: ServerTransaction, opts: IncomingOptions) {
    super((event, err) => opts.log.error({ err, event }, 'SIP call listener threw'));
    this.#ctx = ctx;
    this.#stx = stx;
    this.invite = invite;
    this.callId = getCallId(invite);
    this.offer = sdpOf(invite);
    this.source = stx.responseAddress;
    this.userPart = /^sips?:([^@;?]+)@/i.exec(invite.uri)?.[1] ?? '';
    this.log = opts.log;
    const { host, port } = ctx.localAddress;
    const tp = ctx.protocol === 'UDP' ? '' : `;transport=${ctx.protocol.toLowerCase()}`;
    this.contact = `<sip:${this.userPart || 'gateway'}@${host.includes(':') ? `[${host}]` : host}:${port}${tp}>`;
    this.#inDialog = new DialogRequests(this, opts);
    this.#finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
  }

  get ctx(): CallContext {
    return this.#ctx;
  }

  get state(): SipCallState {
    return this.#state;
  }

  get dialog(): Dialog | undefined {
    return this.#dialog;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Our requests inside the dialog: re-INVITE (hold / resume), REFER (transfer). */
  get requests(): Pick<DialogRequests, 'reinvite' | 'refer'> {
    return this.#inDialog;
  }

  /** 180 Ringing (with our To tag: the early dialog). */
  ring(): void {
    if (this.#state !== 'proceeding') return;
    this.#stx.respond(this.#response(180, 'Ringing'));
  }

  /** Our 2xx with the SDP answer, retransmitted until the ACK; the dialog is confirmed. Emits `established`. */
  accept(sdp: string): void {
    if (this.#state !== 'proceeding') throw new InvalidStateError(`cannot answer in state ${this.#state}`);
    const timer = this.#inDialog.sessionTimerAnswer(this.invite);
    if (timer.tooSmall) {
      this.reject(422, 'Session Interval Too Small', timer.headers);
      return;
    }
    this.#dialog = Dialog.fromUasRequest(this.invite, this.#tag, initialCSeq());
    this.#dialog.transition('confirmed');
    const res = this.#response(200, 'OK', [{ name: 'Contact', value: this.contact }, ...ALLOW_HEADERS, ...timer.arm()], sdp);
    this.#stx.respond(res);
    this.#state = 'confirmed';
    this.#inDialog.retransmit2xx(res, this.#stx.responseAddress, this.#dialog.remoteSeq ?? 0);
    this.emit('established', 200, this.offer ?? '');
  }

  /** A final refusal (≥ 300) of the INVITE; the call is over. */
  reject(status: number, reason: string, headers: readonly SipHeader[] = []): void {
    if (this.#state !== 'proceeding') return;
    this.#stx.respond(this.#response(status, reason, [...headers]));
    this.finish('failed', status, reason);
  }

  /** @internal The far end's CANCEL (already answered 200): 487 to the INVITE (§9.2). */
  cancelled(): void {
    this.reject(487, 'Request Terminated');
  }

  /** BYE when answered; a 480 while not yet. Resolves when done. */
  hangup(): Promise<void> {
    if (this.#done) return this.#finished;
    if (this.#state === 'proceeding') this.reject(480, 'Temporarily Unavailable');
    else if (this.#state === 'confirmed') {
      this.#state = 'terminating';
      void this.#inDialog.bye();
    }
    return this.#finished;
  }

  /** In-dialog INFO; resolves with the final status. */
  sendInfo(contentType: string, body: string): Promise<number> {
    return this.#inDialog.info(contentType, body);
  }

  /** @internal A request routed to this call by Call-ID (in-dialog requests, the ACK of our 2xx). */
  handleRequest(req: SipRequest, stx: ServerTransaction | undefined): void {
    // The INVITE again (no To tag): the transaction, or our 2xx retransmissions until the ACK, answer it.
    if (req.method === 'INVITE' && tagOf(getTo(req)) === undefined) return;
    this.#inDialog.handle(req, stx);
  }

  /** @internal Nothing to match: we sent no INVITE. */
  handleStrayResponse(_res: SipResponse): void {}

  /** @internal Shutdown. */
  destroy(reason: string): void {
    if (this.#state === 'proceeding') this.reject(503, 'Service Unavailable');
    else this.finish('ended', 'local', reason);
  }

  /** @internal Ends the call once. */
  finish(kind: 'failed', status: number, reason: string): void;
  finish(kind: 'ended', by: 'local' | 'remote', reason: string): void;
  finish(kind: 'failed' | 'ended', a: number | 'local' | 'remote', reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#inDialog.close();
    if (this.#dialog && this.#dialog.state !== 'terminated') this.#dialog.transition('terminated');
    this.#state = 'terminated';
    if (kind === 'failed') this.emit('failed', a as number, reason);
    else this.emit('ended', a as 'local' | 'remote', reason);
    this.#ctx.onTerminated(this);
    this.#resolveFinished();
    this.removeAllListeners();
  }

  #response(status: number, reason: string, headers: SipHeader[] = [], sdp?: string): SipResponse {
    return createResponse(this.invite, status, reason, {
      toTag: this.#tag,
      headers: [...headers, { name: 'Server', value: this.#ctx.userAgent }],
      ...(sdp === undefined ? {} : { body: sdp, contentType: 'application/sdp' }),
    });
  }
}
