/**
 * Everything inside an established dialog of one call: the requests the far
 * end sends (RFC 3261 §12.2.2, §14.2, §15.1.2; RFC 3311 UPDATE; RFC 6086
 * INFO), answered through their server transaction, with our 2xx to a
 * re-INVITE retransmitted until the ACK (§13.3.1.4); the requests we send
 * (BYE, INFO, refreshes); and the session timer (RFC 4028). Owned by the call.
 */
import { InvalidStateError, type Logger } from '../shared/index.js';
import { Authenticator, type Credentials } from './auth.js';
import { ALLOW_HEADERS, type CallContext, type SipCallState, type SipClientCallEvents } from './call-types.js';
import type { Dialog } from './dialog.js';
import {
  bodyText, contentType, createResponse, getCSeq, getHeader, getHeaders, serializeMessage,
  type SipHeader, type SipRequest, type SipResponse,
} from './message.js';
import { referProgressOf } from './refer.js';
import { request, type FinalResponse } from './request.js';
import type { ServerTransaction } from './server-transaction.js';
import { MIN_SE, parseSessionExpires, refreshHeaders, SessionTimer, type SessionExpires } from './session-timer.js';
import type { TransportAddress } from './transport.js';

/** What the dialog's requests need from their call. */
export interface DialogHost {
  readonly log: Logger;
  readonly ctx: CallContext;
  readonly dialog: Dialog | undefined;
  readonly done: boolean;
  readonly state: SipCallState;
  readonly contact: string;
  /** Why we are cancelling, when we are. */
  readonly cancelReason: { status: number; reason: string } | undefined;
  /** The SDP answer to a far-end offer (throws to refuse it); with no offer, our current SDP. */
  answerSdp(offer: string | undefined): string;
  emit<K extends keyof SipClientCallEvents & string>(event: K, ...args: SipClientCallEvents[K]): void;
  finish(kind: 'failed', status: number, reason: string): void;
  finish(kind: 'ended', by: 'local' | 'remote', reason: string): void;
  hangup(): Promise<void>;
}

/** How a far end's REFER is refused, by `sip.incomingReferStatus`. */
export const REFER_REFUSALS: Readonly<Record<number, string>> = { 403: 'Forbidden', 488: 'Not Acceptable Here', 603: 'Decline' };

/** Methods we know but do not take inside a dialog: 405 with Allow (§8.2.1); anything else is 501. */
const KNOWN_UNSUPPORTED = new Set(['PRACK', 'SUBSCRIBE', 'MESSAGE', 'PUBLISH', 'REGISTER']);

/** The SDP of a request, if it carries one. */
export function sdpOf(msg: SipRequest): string | undefined {
  const ct = contentType(msg);
  return msg.body.length > 0 && (ct === 'application/sdp' || ct === '') ? bodyText(msg) : undefined;
}

/** The Session-Expires of a message (also compact `x`), if present and valid. */
function sessionExpiresOf(msg: SipRequest | SipResponse): SessionExpires | undefined {
  const v = getHeader(msg, 'Session-Expires');
  if (v === undefined) return undefined;
  try {
    return parseSessionExpires(v);
  } catch {
    return undefined;
  }
}

export class DialogRequests {
  readonly #call: DialogHost;
  readonly #creds: Credentials | undefined;
  readonly #minSe: number;
  /** 2xx retransmission timers for far-end re-INVITEs, by CSeq (§13.3.1.4). */
  readonly #pending2xx = new Map<number, NodeJS.Timeout>();
  /** RFC 4028 timer of the dialog, armed by the 2xx and by every refresh. */
  readonly #sessionTimer: SessionTimer;
  #farAllowsUpdate = false;
  readonly #referStatus: number;

  constructor(call: DialogHost, opts: { auth?: Credentials; minSessionExpiresS?: number; incomingReferStatus?: number }) {
    this.#call = call;
    this.#creds = opts.auth;
    this.#referStatus = opts.incomingReferStatus ?? 603;
    this.#minSe = opts.minSessionExpiresS ?? MIN_SE;
    this.#sessionTimer = new SessionTimer({
      log: call.log,
      minSeconds: this.#minSe,
      refresh: (seconds) => this.#refreshSession(seconds),
      expire: (reason) => {
        if (call.state !== 'confirmed') return;
        call.log.warn({ reason }, 'session timer: hanging up');
        void call.hangup();
      },
    });
  }

  /** The 2xx of our INVITE: arms the session timer and notes whether the far end takes UPDATE. */
  established(res: SipResponse): void {
    this.#farAllowsUpdate = /\bUPDATE\b/i.test(getHeaders(res, 'Allow').join(','));
    this.#sessionTimer.arm(sessionExpiresOf(res), true);
  }

  /** Stops the session timer and every 2xx retransmission. */
  close(): void {
    this.#sessionTimer.close();
    for (const t of this.#pending2xx.values()) clearTimeout(t);
    this.#pending2xx.clear();
  }

  /**
   * Sends a non-INVITE request inside the dialog, answering digest
   * challenges; never rejects (408 on timeout, 503 on transport error, 481 without a dialog).
   */
  send(method: string, opts: { contentType?: string; body?: string; headers?: readonly SipHeader[] } = {}): Promise<FinalResponse> {
    const d = this.#call.dialog;
    if (!d) return Promise.resolve({ status: 481, reason: 'Call/Transaction Does Not Exist' });
    const ctx = this.#call.ctx;
    return request(() => d.buildRequest(method, {
      via: ctx.newVia(), headers: [...(opts.headers ?? []), { name: 'User-Agent', value: ctx.userAgent }], body: opts.body, contentType: opts.contentType,
    }), { layer: ctx.layer, to: d.destination(), auth: new Authenticator(this.#creds) });
  }

  /** Our INFO; its final status (408 on timeout, 503 on transport error). Throws outside a confirmed dialog. */
  async info(contentType: string, body: string): Promise<number> {
    const call = this.#call;
    if (call.state !== 'confirmed') throw new InvalidStateError(`cannot send INFO in state ${call.state}`);
    const r = await this.send('INFO', { contentType, body });
    // §12.2.1.2: 481 means the far end has no such dialog any more.
    if (r.status === 481) call.finish('ended', 'remote', '481 Call/Transaction Does Not Exist');
    return r.status;
  }

  /** Our BYE; the call has ended (locally) once it is answered or given up. */
  async bye(): Promise<void> {
    const r = await this.send('BYE');
    this.#call.finish('ended', 'local', r.status >= 200 && r.status < 300 ? 'BYE' : `BYE ${r.status} ${r.reason}`);
  }

  /** Handles one request routed to the call by its Call-ID; never throws for protocol errors. */
  handle(req: SipRequest, stx: ServerTransaction | undefined): void {
    if (req.method === 'ACK') {
      this.#ackReceived(req);
      return;
    }
    if (!stx) return;
    const call = this.#call;
    const d = call.dialog;
    if (!d || call.done || !d.matchesRequest(req)) {
      this.#respond(stx, req, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    if (!d.acceptRemoteCSeq(req)) {
      this.#respond(stx, req, 500, 'Server Internal Error'); // §12.2.2: CSeq lower than the last one
      return;
    }
    switch (req.method) {
      case 'BYE': {
        this.#respond(stx, req, 200, 'OK');
        const cancel = call.cancelReason;
        if (call.state === 'confirmed' || (call.state === 'terminating' && !cancel)) call.finish('ended', 'remote', 'BYE');
        else call.finish('failed', cancel?.status ?? 487, cancel?.reason ?? 'Request Terminated');
        return;
      }
      case 'INFO':
        this.#respond(stx, req, 200, 'OK');
        call.emit('info', contentType(req), bodyText(req));
        return;
      case 'OPTIONS':
        this.#respond(stx, req, 200, 'OK', [{ name: 'Accept', value: 'application/sdp' }, ...ALLOW_HEADERS]);
        return;
      case 'NOTIFY': {
        this.#respond(stx, req, 200, 'OK');
        const progress = referProgressOf(req);
        if (progress) call.emit('referProgress', progress);
        return;
      }
      case 'REFER':
        // A far end's transfer request (RFC 3515) is refused (`sip.incomingReferStatus`): a capture stays on the call it was started on.
        this.#respond(stx, req, this.#referStatus, REFER_REFUSALS[this.#referStatus] ?? 'Decline');
        return;
      case 'INVITE':
      case 'UPDATE':
        this.#onOffer(d, req, stx);
        return;
      default:
        if (KNOWN_UNSUPPORTED.has(req.method)) this.#respond(stx, req, 405, 'Method Not Allowed', ALLOW_HEADERS);
        else this.#respond(stx, req, 501, 'Not Implemented', ALLOW_HEADERS);
    }
  }

  #respond(stx: ServerTransaction, req: SipRequest, status: number, reason: string, headers: readonly SipHeader[] = [], body?: string): SipResponse {
    const res = createResponse(req, status, reason, {
      headers: [...headers, { name: 'Server', value: this.#call.ctx.userAgent }],
      body,
      contentType: body === undefined ? undefined : 'application/sdp',
    });
    stx.respond(res);
    return res;
  }

  /**
   * §14.2 re-INVITE (answered 200 with our SDP, retransmitted until the ACK)
   * or RFC 3311 UPDATE (with or without an offer: a session refresh has none).
   */
  #onOffer(d: Dialog, req: SipRequest, stx: ServerTransaction): void {
    const call = this.#call;
    const invite = req.method === 'INVITE';
    if (invite && call.state !== 'confirmed') {
      this.#respond(stx, req, 491, 'Request Pending');
      return;
    }
    const timer = this.sessionTimerAnswer(req);
    if (timer.tooSmall) {
      this.#respond(stx, req, 422, 'Session Interval Too Small', timer.headers);
      return;
    }
    const offer = sdpOf(req);
    let sdp: string | undefined;
    if (invite || offer !== undefined) {
      try {
        sdp = call.answerSdp(offer);
      } catch (err) {
        call.log.warn({ err }, 'SDP offer refused');
        this.#respond(stx, req, 488, 'Not Acceptable Here');
        return;
      }
    }
    d.refreshTarget(req);
    const res = this.#respond(stx, req, 200, 'OK', [{ name: 'Contact', value: call.contact }, ...ALLOW_HEADERS, ...timer.arm()], sdp);
    if (invite) this.retransmit2xx(res, stx.responseAddress, getCSeq(req).seq);
    if (invite || offer !== undefined) call.emit('reinvite', offer);
  }

  /**
   * RFC 4028 as the UAS of `req` (an INVITE, re-INVITE or UPDATE): a request
   * asking for less than our Min-SE is refused (422 with these headers);
   * otherwise `arm()` starts the session timer and gives the 2xx's headers.
   * §9: the UAS picks the refresher when the request leaves it open: the far
   * end (the UAC of this request).
   */
  sessionTimerAnswer(req: SipRequest): { tooSmall: true; headers: SipHeader[] } | { tooSmall: false; arm: () => SipHeader[] } {
    const se = sessionExpiresOf(req);
    if (se !== undefined && se.seconds > 0 && se.seconds < this.#minSe) {
      return { tooSmall: true, headers: [{ name: 'Min-SE', value: String(this.#minSe) }] };
    }
    return {
      tooSmall: false,
      arm: () => {
        const chosen = se ? { seconds: se.seconds, refresher: se.refresher ?? 'uac' as const } : undefined;
        this.#sessionTimer.arm(chosen, false);
        return chosen ? [{ name: 'Session-Expires', value: `${chosen.seconds};refresher=${chosen.refresher}` }, { name: 'Require', value: 'timer' }] : [];
      },
    };
  }

  /**
   * §13.3.1.4: the UAS core retransmits its 2xx at T1, doubling up to T2,
   * until the ACK; with no ACK after 64*T1 the session ends with a BYE.
   */
  retransmit2xx(res: SipResponse, to: TransportAddress, seq: number): void {
    const call = this.#call;
    const bytes = serializeMessage(res);
    const { t1, t2 } = call.ctx.timers;
    let interval = t1;
    let elapsed = 0;
    const tick = (): void => {
      elapsed += interval;
      if (elapsed >= 64 * t1) {
        this.#pending2xx.delete(seq);
        call.log.warn({ cseq: seq }, 'no ACK for our 2xx to a re-INVITE, hanging up');
        void call.hangup();
        return;
      }
      call.ctx.layer.transport.sendRaw(bytes, to).catch(() => undefined);
      interval = Math.min(interval * 2, t2);
      this.#pending2xx.set(seq, setTimeout(tick, interval));
    };
    clearTimeout(this.#pending2xx.get(seq));
    this.#pending2xx.set(seq, setTimeout(tick, interval));
  }

  #ackReceived(req: SipRequest): void {
    const seq = getCSeq(req).seq;
    const t = this.#pending2xx.get(seq);
    if (t === undefined) return;
    clearTimeout(t);
    this.#pending2xx.delete(seq);
  }

  /** RFC 4028 §7.4 / §10: our session refresh; UPDATE when the far end allows it (no SDP), else a re-INVITE with our SDP. */
  async #refreshSession(seconds: number): Promise<{ status: number; sessionExpires: SessionExpires | undefined }> {
    const call = this.#call;
    if (call.state !== 'confirmed') return { status: 481, sessionExpires: undefined };
    const headers = [{ name: 'Contact', value: call.contact }, ...ALLOW_HEADERS, ...refreshHeaders(seconds, this.#minSe)];
    const r = this.#farAllowsUpdate ? await this.send('UPDATE', { headers }) : await this.#reinvite(headers);
    call.log.debug({ status: r.status, method: this.#farAllowsUpdate ? 'UPDATE' : 'INVITE' }, 'session refreshed');
    return { status: r.status, sessionExpires: r.response ? sessionExpiresOf(r.response) : undefined };
  }

  /** Our re-INVITE with `sdp` as the offer (hold, resume); resolves with its final status (481 outside a dialog). */
  async reinvite(sdp: string): Promise<number> {
    const call = this.#call;
    if (call.state !== 'confirmed') return 481;
    return (await this.#reinvite([{ name: 'Contact', value: call.contact }, ...ALLOW_HEADERS], sdp)).status;
  }

  /**
   * Our REFER (RFC 3515) asking the far end to call `target`; resolves with its
   * final status. Its progress comes as `referProgress` events (the NOTIFYs).
   */
  async refer(target: string, referredBy: string): Promise<FinalResponse> {
    const call = this.#call;
    if (call.state !== 'confirmed') return { status: 481, reason: 'Call/Transaction Does Not Exist' };
    return this.send('REFER', {
      headers: [{ name: 'Refer-To', value: `<${target}>` }, { name: 'Referred-By', value: `<${referredBy}>` }, { name: 'Contact', value: call.contact }],
    });
  }

  /**
   * Our re-INVITE with `body` (default our current SDP) as the offer; answers digest
   * challenges (§22.2) and ACKs the 2xx and its retransmissions (§13.2.2.4).
   */
  async #reinvite(headers: readonly SipHeader[], body?: string): Promise<FinalResponse> {
    const call = this.#call;
    const d = call.dialog;
    if (!d) return { status: 481, reason: 'Call/Transaction Does Not Exist' };
    const ctx = call.ctx;
    const to = d.destination();
    const acks = new Map<SipRequest, Buffer>();
    const r = await request(() => d.buildRequest('INVITE', {
      via: ctx.newVia(), headers: [...headers, { name: 'User-Agent', value: ctx.userAgent }], body: body ?? call.answerSdp(undefined), contentType: 'application/sdp',
    }), {
      layer: ctx.layer,
      to,
      auth: new Authenticator(this.#creds),
      onResponse: (res, req) => {
        if (res.status < 200 || res.status >= 300) return;
        let ack = acks.get(req);
        if (!ack) {
          ack = serializeMessage(d.buildRequest('ACK', {
            via: ctx.newVia(), cseq: getCSeq(req).seq, headers: req.headers.filter((h) => /^(proxy-)?authorization$/i.test(h.name)),
          }));
          acks.set(req, ack);
        }
        ctx.layer.transport.sendRaw(ack, to).catch(() => undefined);
      },
    });
    if (r.response && r.status >= 200 && r.status < 300) d.refreshTarget(r.response);
    return r;
  }
}
