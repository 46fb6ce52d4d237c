/**
 * One outgoing call (the UAC core of RFC 3261 §13, §15, §9 and §12): INVITE
 * with digest retries, provisional/final handling, ACK, CANCEL, BYE, and the
 * far end's in-dialog requests. Created by `SipUserAgent.invite()`.
 */
import { InvalidStateError, TypedEmitter, type Logger } from '../shared/index.js';
import { Authenticator } from './auth.js';
import {
  ALLOW, ALLOW_HEADERS, CALL_TRANSITIONS, type CallContext, type InviteOptions, type SipCallState, type SipClientCallEvents,
} from './call-types.js';
import { bodyOrUndefined, Dialog, uriAddress } from './dialog.js';
import { quote } from './headers.js';
import { initialCSeq, newTag } from './ids.js';
import { DialogRequests } from './in-dialog.js';
import {
  bodyText, getCSeq, getFrom, getHeader, getHeaders, getTo, getTopVia, headerKey, serializeMessage, tagOf,
  type SipHeader, type SipRequest, type SipResponse,
} from './message.js';
import { request, type FinalResponse } from './request.js';
import type { ServerTransaction } from './server-transaction.js';
import { MIN_SE, parseMinSe, refreshHeaders } from './session-timer.js';
import { InviteTransport } from './size-switch.js';
import type { ClientTransaction } from './transaction.js';
import type { TransportAddress } from './transport.js';
import { bareUri, formatUri, parseNameAddr, parseUri } from './uri.js';

export { ALLOW, CALL_TRANSITIONS, type CallContext, type InviteOptions, type SipCallState, type SipClientCallEvents };

/** An outgoing SIP call. */
export class SipClientCall extends TypedEmitter<SipClientCallEvents> {
  readonly callId: string;
  /** Last SIP status seen (responses to the INVITE, or a synthetic 408/503). */
  lastStatus: number | undefined;
  /** Set by the call layer: returns the SDP answer to a far-end re-INVITE/UPDATE offer. */
  answerSdp: (offer: string | undefined) => string;
  readonly log: Logger;
  /** The INVITE's transport; may switch from UDP to TCP before the first INVITE goes out (§18.1.1). */
  readonly #transport: InviteTransport;
  readonly #opts: InviteOptions;
  #state: SipCallState = 'calling';
  #started = false;
  readonly #fromHeader: string;
  readonly #toHeader: string;
  contact: string;
  #requestUri: string;
  #destination: TransportAddress;
  #cseq = initialCSeq();
  #invite: SipRequest | undefined;
  #ict: ClientTransaction | undefined;
  /** Via branches of every INVITE we sent for this call (auth retries, transport fallback): a 2xx outside its transaction must carry one. */
  readonly #inviteBranches = new Set<string>();
  #dialog: Dialog | undefined;
  #ack: { bytes: Buffer; to: TransportAddress; tag: string; cseq: number } | undefined;
  readonly #auth: Authenticator;
  #gotProvisional = false;
  #redirected = false;
  #cancel: { status: number; reason: string } | undefined;
  #cancelSent = false;
  #ringTimer: NodeJS.Timeout | undefined;
  #cancelGuard: NodeJS.Timeout | undefined;
  /** Requests inside the dialog, both ways, and its session timer. */
  readonly #inDialog: DialogRequests;
  /** Session-Expires we ask for after a 422 (RFC 4028 §7.4 / §6); none at first. */
  #sessionExpiresReq: number | undefined;
  #done = false;
  readonly #finished: Promise<void>;
  #resolveFinished: () => void = () => undefined;

  /** @internal Use `SipUserAgent.invite()`. */
  constructor(ctx: CallContext, opts: InviteOptions) {
    super((event, err) => opts.log.error({ err, event }, 'SIP call listener threw'));
    this.#transport = new InviteTransport(ctx, opts.log);
    this.#opts = opts;
    this.log = opts.log;
    this.callId = opts.callId;
    this.#requestUri = opts.requestUri;
    this.#destination = opts.destination;
    this.#auth = new Authenticator(opts.auth);
    this.answerSdp = () => opts.sdpOffer;
    const toUri = opts.to ?? formatUri(bareUri(parseUri(opts.requestUri)));
    parseUri(toUri);
    const display = opts.from.displayName ? `${quote(opts.from.displayName)} ` : '';
    this.#fromHeader = `${display}<sip:${opts.from.user}@${opts.from.host}>;tag=${newTag()}`;
    parseNameAddr(this.#fromHeader);
    this.#toHeader = `<${toUri}>`;
    this.contact = this.#contactFor(ctx);
    this.#inDialog = new DialogRequests(this, opts);
    this.#finished = new Promise((resolve) => {
      this.#resolveFinished = resolve;
    });
  }

  /** Our Contact on a transport: its address, `;transport=` for streams (§19.1.4), then `sipContactParams`. */
  #contactFor(ctx: CallContext): string {
    const { host, port } = ctx.localAddress;
    const h = host.includes(':') ? `[${host}]` : host;
    const tp = ctx.protocol === 'UDP' ? '' : `;transport=${ctx.protocol.toLowerCase()}`;
    return `<sip:${this.#opts.from.user}@${h}:${port}${tp}>${this.#opts.contactParams ?? ''}`;
  }

  /** The transport context the call uses now. */
  get ctx(): CallContext {
    return this.#transport.ctx;
  }


  get state(): SipCallState {
    return this.#state;
  }

  /** The dialog once the far end answered (or sent a tagged 1xx). */
  get dialog(): Dialog | undefined {
    return this.#dialog;
  }

  /** Sends the INVITE and starts the ring timer. */
  start(): void {
    if (this.#started) throw new InvalidStateError('call already started');
    this.#started = true;
    if (this.#done) return;
    this.#ringTimer = setTimeout(() => this.#onRingTimeout(), this.#opts.ringTimeoutMs);
    void this.#inviteUntilFinal();
  }

  /** CANCEL when not yet answered; BYE when established; resolves when done (or after a timeout). */
  hangup(): Promise<void> {
    if (this.#done) return this.#finished;
    const s = this.#state;
    if (s === 'calling' && !this.#started) this.finish('failed', 487, 'Request Terminated');
    else if (s === 'calling' || s === 'proceeding' || s === 'early') this.#requestCancel(487, 'Request Terminated');
    else if (s === 'confirmed') {
      this.#transition('terminating');
      void this.#inDialog.bye();
    }
    return this.#finished;
  }

  /** Our requests inside the dialog: re-INVITE (hold / resume), REFER (transfer). */
  get requests(): Pick<DialogRequests, 'reinvite' | 'refer'> {
    return this.#inDialog;
  }

  /** In-dialog INFO; resolves with the final status (408 on timeout, 503 on transport error). */
  sendInfo(contentType: string, body: string): Promise<number> {
    return this.#inDialog.info(contentType, body);
  }

  /** @internal A request routed to this call by Call-ID. */
  handleRequest(req: SipRequest, stx: ServerTransaction | undefined): void {
    this.#inDialog.handle(req, stx);
  }

  /** @internal A response no transaction matched (a 2xx retransmitted after the transaction ended). */
  handleStrayResponse(res: SipResponse): void {
    if (res.status < 200 || res.status >= 300 || getCSeq(res).method !== 'INVITE') return;
    // A retransmitted or forked 2xx of our INVITE repeats its branch and our From tag (§17.1.1.3, §12.1.2);
    // a forged 200 OK guessing the Call-ID and CSeq does not, and is dropped.
    const ours = this.#inviteBranches.has(getTopVia(res).params.get('branch') ?? '')
      && tagOf(getFrom(res)) === tagOf(getFrom(this.#invite as SipRequest));
    if (!ours) {
      this.log.warn({ status: res.status }, 'a 2xx for this call matching none of our INVITEs: dropped');
      return;
    }
    this.#on2xx(res);
  }

  /** @internal Shutdown: stops timers and transactions, reports the end. */
  destroy(reason: string): void {
    this.#ict?.terminate();
    if (this.#state === 'confirmed' || (this.#state === 'terminating' && !this.#cancel)) this.finish('ended', 'local', reason);
    else this.finish('failed', 503, reason);
  }

  /** @internal True once the call has ended (or failed). */
  get done(): boolean {
    return this.#done;
  }

  /** @internal Why we are cancelling, when we are. */
  get cancelReason(): { status: number; reason: string } | undefined {
    return this.#cancel;
  }

  #transition(to: SipCallState): void {
    if (to === this.#state) return;
    if (!CALL_TRANSITIONS[this.#state].includes(to)) throw new InvalidStateError(`SIP call: ${this.#state} → ${to}`);
    this.#state = to;
  }

  /**
   * Sends the INVITE until a final answer: digest challenges (in `request`),
   * a 422 with a larger Session-Expires, one redirect, and UDP again when the
   * size switch's TCP fails. The responses themselves go to `#onInviteResponse`.
   */
  async #inviteUntilFinal(): Promise<void> {
    for (;;) {
      const ctx = this.ctx;
      await this.#transport.select(serializeMessage(this.#buildInvite(this.#cseq + 1)).length, this.#destination);
      if (this.#done) return;
      const c = this.#cancel;
      if (c) {
        // Hung up before it went out: nothing to CANCEL.
        this.finish('failed', c.status, c.reason);
        return;
      }
      if (this.ctx !== ctx) this.contact = this.#contactFor(this.ctx);
      const r = await request(() => this.#buildInvite(++this.#cseq), {
        layer: this.ctx.layer,
        to: this.#destination,
        auth: this.#auth,
        mayRetry: () => !this.#cancel && !this.#done,
        onSent: (req, tx) => this.#sent(req, tx),
        onResponse: (res, req) => this.#onInviteResponse(res, req),
      });
      if (this.#done || (r.status >= 200 && r.status < 300) || !this.#retry(r)) return;
    }
  }

  /** A final non-2xx answer (or none): true when the INVITE goes out again, else the call fails. */
  #retry(r: FinalResponse): boolean {
    const res = r.response;
    if (r.transportError) {
      if (!this.#cancel && this.#transport.fallBack(r.transportError, this.#destination)) {
        this.contact = this.#contactFor(this.ctx);
        return true;
      }
      this.log.warn({ err: r.transportError, dest: this.#destination }, 'INVITE could not be sent');
    }
    if (!res) this.lastStatus = r.status;
    if (this.#auth.refusal !== undefined && (r.status === 401 || r.status === 407)) {
      this.log.warn({ status: r.status, why: this.#auth.refusal }, 'challenge not answered');
    }
    if (res && !this.#cancel && res.status === 422 && this.#retryWithMinSe(res)) return true;
    if (res && !this.#cancel && res.status >= 300 && res.status < 400 && !this.#redirected && this.#redirect(res)) return true;
    const c = this.#cancel;
    if (c && !r.transportError && (r.status === 487 || !res)) this.finish('failed', c.status, c.reason);
    else this.finish('failed', r.status, r.reason);
    return false;
  }

  #sent(req: SipRequest, tx: ClientTransaction): void {
    this.#invite = req;
    this.#ict = tx;
    this.#inviteBranches.add(getTopVia(req).params.get('branch') ?? '');
    this.#gotProvisional = false;
    this.#cancelSent = false;
  }

  #buildInvite(seq: number): SipRequest {
    const body = Buffer.from(this.#opts.sdpOffer, 'utf8');
    const headers: SipHeader[] = [
      { name: 'Via', value: this.ctx.newVia() },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: this.#fromHeader },
      { name: 'To', value: this.#toHeader },
      { name: 'Call-ID', value: this.callId },
      { name: 'CSeq', value: `${seq} INVITE` },
      { name: 'Contact', value: this.contact },
      ...ALLOW_HEADERS,
      { name: 'User-Agent', value: this.ctx.userAgent },
      ...(this.#opts.extraHeaders ?? []),
      ...(this.#sessionExpiresReq === undefined ? [] : refreshHeaders(this.#sessionExpiresReq, this.#opts.minSessionExpiresS)),
      { name: 'Content-Type', value: 'application/sdp' },
    ];
    return { type: 'request', method: 'INVITE', uri: this.#requestUri, headers, body };
  }

  #onInviteResponse(res: SipResponse, req: SipRequest): void {
    if (req !== this.#invite) {
      if (res.status >= 200 && res.status < 300) this.#on2xx(res);
      return;
    }
    this.lastStatus = res.status;
    if (res.status < 200) this.#onProvisional(res);
    else if (res.status < 300) this.#on2xx(res);
  }

  #onProvisional(res: SipResponse): void {
    if (this.#done) return;
    this.#gotProvisional = true;
    // §9.1: a CANCEL waits for a provisional response.
    if (this.#cancel) {
      if (!this.#cancelSent) this.#sendCancel();
      return;
    }
    const tag = tagOf(getTo(res));
    if (res.status > 100 && tag !== undefined && this.#invite) {
      if (!this.#dialog || this.#dialog.remoteTag !== tag) this.#dialog = Dialog.fromUacResponse(this.#invite, res);
      this.#transition('early');
    } else if (this.#state === 'calling') this.#transition('proceeding');
    this.emit('progress', res.status, res.reason, bodyOrUndefined(res));
  }

  #on2xx(res: SipResponse): void {
    const tag = tagOf(getTo(res)) ?? '';
    const cseq = getCSeq(res).seq;
    const ack = this.#ack;
    if (ack && ack.tag === tag && ack.cseq === cseq) {
      // A retransmitted 2xx: the ACK got lost, send it again (§13.2.2.4).
      this.ctx.layer.transport.sendRaw(ack.bytes, ack.to).catch(() => undefined);
      return;
    }
    const invite = this.#invite;
    if (!invite || cseq !== getCSeq(invite).seq) return;
    if (ack) {
      // §13.2.2.4: a 2xx from another fork: acknowledge it and hang it up.
      this.#ackAndBye(Dialog.fromUacResponse(invite, res), cseq);
      return;
    }
    let d = this.#dialog;
    if (d && d.remoteTag === tag && d.state === 'early') d.confirm(res);
    else d = Dialog.fromUacResponse(invite, res);
    this.#dialog = d;
    this.#sendAck(d, cseq, tag);
    clearTimeout(this.#ringTimer);
    if (this.#done || this.#state === 'terminating') {
      // The answer crossed our CANCEL (or the call is over): ACK, then BYE (§15).
      void this.#inDialog.send('BYE').then(() => {
        const c = this.#cancel ?? { status: 487, reason: 'Request Terminated' };
        this.finish('failed', c.status, c.reason);
      });
      return;
    }
    this.#transition('confirmed');
    this.#inDialog.established(res);
    this.emit('established', res.status, bodyText(res));
  }

  #sendAck(d: Dialog, cseq: number, tag: string): void {
    // §13.2.2.4: the ACK carries the INVITE's credentials.
    const creds = (this.#invite?.headers ?? []).filter((h) => {
      const k = headerKey(h.name);
      return k === 'authorization' || k === 'proxy-authorization';
    });
    const req = d.buildRequest('ACK', { via: this.ctx.newVia(), cseq, headers: [...creds, { name: 'User-Agent', value: this.ctx.userAgent }] });
    const bytes = serializeMessage(req);
    const to = d.destination();
    this.#ack = { bytes, to, tag, cseq };
    this.ctx.layer.transport.sendRaw(bytes, to).catch((err: unknown) => this.log.warn({ err }, 'ACK could not be sent'));
  }

  #ackAndBye(d: Dialog, cseq: number): void {
    const req = d.buildRequest('ACK', { via: this.ctx.newVia(), cseq });
    const to = d.destination();
    this.ctx.layer.transport.send(req, to).catch(() => undefined);
    const bye = d.buildRequest('BYE', { via: this.ctx.newVia(), headers: [{ name: 'User-Agent', value: this.ctx.userAgent }] });
    this.ctx.layer.sendNonInvite(bye, to);
  }

  /** RFC 4028 §6: 422 Session Interval Too Small → retry once with its Min-SE as Session-Expires. */
  #retryWithMinSe(res: SipResponse): boolean {
    const v = getHeader(res, 'Min-SE');
    if (v === undefined) return false;
    let min: number;
    try {
      min = parseMinSe(v);
    } catch {
      return false;
    }
    if (this.#sessionExpiresReq !== undefined && min <= this.#sessionExpiresReq) return false;
    this.#sessionExpiresReq = Math.max(min, MIN_SE);
    this.log.debug({ minSe: min }, 'INVITE got 422, retrying with a larger Session-Expires');
    return true;
  }

  /** Follows a 3xx once (§8.1.3.4): the first Contact becomes the Request-URI and the next hop. */
  #redirect(res: SipResponse): boolean {
    const contact = getHeaders(res, 'Contact')[0];
    if (contact === undefined) return false;
    try {
      const uri = parseNameAddr(contact).uri;
      if (uri.scheme === 'tel') return false;
      this.#redirected = true;
      this.#requestUri = formatUri({ ...uri, headers: new Map() });
      this.#destination = uriAddress(uri);
      this.#dialog = undefined;
      this.log.debug({ target: this.#requestUri }, 'INVITE redirected');
      return true;
    } catch {
      return false;
    }
  }

  #onRingTimeout(): void {
    this.#ringTimer = undefined;
    if (this.#done || this.#state === 'confirmed' || this.#state === 'terminating') return;
    this.log.debug('ring timeout, cancelling');
    this.#requestCancel(408, 'Request Timeout');
  }

  #requestCancel(status: number, reason: string): void {
    if (this.#cancel) return;
    this.#cancel = { status, reason };
    clearTimeout(this.#ringTimer);
    this.#transition('terminating');
    // §9.1: with no final response 64*T1 after the CANCEL, give the INVITE up.
    this.#cancelGuard = setTimeout(() => {
      this.#ict?.terminate();
      this.finish('failed', status, reason);
    }, 64 * this.ctx.timers.t1);
    if (this.#gotProvisional) this.#sendCancel();
  }

  /** §9.1: same Request-URI, Call-ID, From, To, CSeq number, top Via and Route as the INVITE. */
  #sendCancel(): void {
    const invite = this.#invite;
    if (!invite) return;
    this.#cancelSent = true;
    const headers: SipHeader[] = [{ name: 'Via', value: getHeaders(invite, 'Via')[0] ?? '' }, { name: 'Max-Forwards', value: '70' }];
    for (const name of ['From', 'To', 'Call-ID']) headers.push({ name, value: getHeader(invite, name) ?? '' });
    headers.push({ name: 'CSeq', value: `${getCSeq(invite).seq} CANCEL` });
    for (const r of getHeaders(invite, 'Route')) headers.push({ name: 'Route', value: r });
    headers.push({ name: 'User-Agent', value: this.ctx.userAgent });
    const cancel: SipRequest = { type: 'request', method: 'CANCEL', uri: invite.uri, headers, body: Buffer.alloc(0) };
    const tx = this.ctx.layer.sendNonInvite(cancel, this.#destination);
    tx.on('response', (res) => this.log.debug({ status: res.status }, 'CANCEL answered'));
  }

  /** @internal Ends the call once: clears timers, emits the final event, resolves `hangup()`. */
  finish(kind: 'failed', status: number, reason: string): void;
  finish(kind: 'ended', by: 'local' | 'remote', reason: string): void;
  finish(kind: 'failed' | 'ended', a: number | 'local' | 'remote', reason: string): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#ringTimer);
    clearTimeout(this.#cancelGuard);
    this.#inDialog.close();
    if (this.#dialog && this.#dialog.state !== 'terminated') this.#dialog.transition('terminated');
    this.#state = 'terminated';
    this.log.debug({ kind, a, reason }, 'SIP call terminated');
    if (kind === 'failed') this.emit('failed', a as number, reason);
    else this.emit('ended', a as 'local' | 'remote', reason);
    this.ctx.onTerminated(this);
    this.#resolveFinished();
    // A finished call emits nothing more, but the INVITE transaction keeps it
    // for 64*T1 after a 2xx (Timer M, RFC 6026 §7.2) to re-ACK retransmissions:
    // let go of the TU's listeners and hooks so its objects are freed now.
    this.removeAllListeners();
    this.answerSdp = () => this.#opts.sdpOffer;
  }
}
