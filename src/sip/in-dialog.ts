/**
 * Requests the far end sends inside our dialog (RFC 3261 §12.2.2, §14.2,
 * §15.1.2; RFC 3311 UPDATE; RFC 6086 INFO), answered through their server
 * transaction. 2xx responses to a re-INVITE are retransmitted here until the
 * ACK (§13.3.1.4).
 */
import type { Logger } from '../shared/index.js';
import type { Authenticator } from './auth.js';
import type { CallContext, SipCallState, SipClientCallEvents } from './call-types.js';
import type { Dialog } from './dialog.js';
import { bodyText, contentType, createResponse, getCSeq, serializeMessage, type SipHeader, type SipRequest, type SipResponse } from './message.js';
import type { ServerTransaction } from './server-transaction.js';
import type { TransportAddress } from './transport.js';

/** The parts of a call the in-dialog handlers use. @internal */
export interface InDialogHost {
  readonly log: Logger;
  readonly ctx: CallContext;
  readonly dialog: Dialog | undefined;
  readonly done: boolean;
  readonly state: SipCallState;
  readonly contact: string;
  readonly allowHeaders: SipHeader[];
  readonly cancelReason: { status: number; reason: string } | undefined;
  readonly pending2xx: Map<number, NodeJS.Timeout>;
  answerSdp: (offer: string | undefined) => string;
  emit<K extends keyof SipClientCallEvents & string>(event: K, ...args: SipClientCallEvents[K]): void;
  finish(kind: 'failed', status: number, reason: string): void;
  finish(kind: 'ended', by: 'local' | 'remote', reason: string): void;
  hangup(): Promise<void>;
  /** Headers for our 2xx to a far-end re-INVITE/UPDATE, re-arming the session timer (RFC 4028 §9). */
  sessionRefreshed(req: SipRequest): SipHeader[];
  /** Our Min-SE when the request's Session-Expires is below it (→ 422), else undefined. */
  sessionIntervalTooSmall(req: SipRequest): number | undefined;
  /** Fresh digest state for one request of ours. */
  newAuthenticator(): Authenticator;
}

/** Methods we know but do not take inside a dialog: 405 with Allow (§8.2.1); anything else is 501. */
const KNOWN_UNSUPPORTED = new Set(['PRACK', 'REFER', 'SUBSCRIBE', 'MESSAGE', 'PUBLISH', 'REGISTER']);

/** The SDP of a request, if it carries one. */
export function sdpOf(msg: SipRequest): string | undefined {
  const ct = contentType(msg);
  return msg.body.length > 0 && (ct === 'application/sdp' || ct === '') ? bodyText(msg) : undefined;
}

/** Handles one request routed to `call` by its Call-ID; never throws for protocol errors. */
export function handleInDialogRequest(call: InDialogHost, req: SipRequest, stx: ServerTransaction | undefined): void {
  if (req.method === 'ACK') {
    ackReceived(call, req);
    return;
  }
  if (!stx) return;
  const d = call.dialog;
  if (!d || call.done || !d.matchesRequest(req)) {
    respond(call, stx, req, 481, 'Call/Transaction Does Not Exist');
    return;
  }
  if (!d.acceptRemoteCSeq(req)) {
    respond(call, stx, req, 500, 'Server Internal Error'); // §12.2.2: CSeq lower than the last one
    return;
  }
  switch (req.method) {
    case 'BYE': {
      respond(call, stx, req, 200, 'OK');
      const cancel = call.cancelReason;
      if (call.state === 'confirmed' || (call.state === 'terminating' && !cancel)) call.finish('ended', 'remote', 'BYE');
      else call.finish('failed', cancel?.status ?? 487, cancel?.reason ?? 'Request Terminated');
      return;
    }
    case 'INFO':
      respond(call, stx, req, 200, 'OK');
      call.emit('info', contentType(req), bodyText(req));
      return;
    case 'OPTIONS':
      respond(call, stx, req, 200, 'OK', [{ name: 'Accept', value: 'application/sdp' }, ...call.allowHeaders]);
      return;
    case 'NOTIFY':
      respond(call, stx, req, 200, 'OK');
      return;
    case 'INVITE':
      onReinvite(call, d, req, stx);
      return;
    case 'UPDATE':
      onUpdate(call, d, req, stx);
      return;
    default:
      if (KNOWN_UNSUPPORTED.has(req.method)) respond(call, stx, req, 405, 'Method Not Allowed', call.allowHeaders);
      else respond(call, stx, req, 501, 'Not Implemented', call.allowHeaders);
  }
}

function respond(call: InDialogHost, stx: ServerTransaction, req: SipRequest, status: number, reason: string, headers: SipHeader[] = [], body?: string): SipResponse {
  const res = createResponse(req, status, reason, {
    headers: [...headers, { name: 'Server', value: call.ctx.userAgent }],
    body,
    contentType: body === undefined ? undefined : 'application/sdp',
  });
  stx.respond(res);
  return res;
}

/** Runs the call layer's hook; undefined when it refused the offer. */
function answer(call: InDialogHost, offer: string | undefined): string | undefined {
  try {
    return call.answerSdp(offer);
  } catch (err) {
    call.log.warn({ err }, 'SDP offer refused');
    return undefined;
  }
}

/** RFC 4028 §9: a refresh asking for less than our Min-SE gets 422 with it; true when refused. */
function refuseSmallInterval(call: InDialogHost, req: SipRequest, stx: ServerTransaction): boolean {
  const min = call.sessionIntervalTooSmall(req);
  if (min === undefined) return false;
  respond(call, stx, req, 422, 'Session Interval Too Small', [{ name: 'Min-SE', value: String(min) }]);
  return true;
}

/** §14.2: a re-INVITE; answered 200 with our SDP, retransmitted until the ACK. */
function onReinvite(call: InDialogHost, d: Dialog, req: SipRequest, stx: ServerTransaction): void {
  if (call.state !== 'confirmed') {
    respond(call, stx, req, 491, 'Request Pending');
    return;
  }
  if (refuseSmallInterval(call, req, stx)) return;
  const offer = sdpOf(req);
  const sdp = answer(call, offer);
  if (sdp === undefined) {
    respond(call, stx, req, 488, 'Not Acceptable Here');
    return;
  }
  d.refreshTarget(req);
  const st = call.sessionRefreshed(req);
  const res = respond(call, stx, req, 200, 'OK', [{ name: 'Contact', value: call.contact }, ...call.allowHeaders, ...st], sdp);
  retransmit2xx(call, res, stx.responseAddress, getCSeq(req).seq);
  call.emit('reinvite', offer);
}

/** RFC 3311: UPDATE, with or without an offer (a session refresh has none). */
function onUpdate(call: InDialogHost, d: Dialog, req: SipRequest, stx: ServerTransaction): void {
  if (refuseSmallInterval(call, req, stx)) return;
  const offer = sdpOf(req);
  let sdp: string | undefined;
  if (offer !== undefined) {
    sdp = answer(call, offer);
    if (sdp === undefined) {
      respond(call, stx, req, 488, 'Not Acceptable Here');
      return;
    }
  }
  d.refreshTarget(req);
  const st = call.sessionRefreshed(req);
  respond(call, stx, req, 200, 'OK', [{ name: 'Contact', value: call.contact }, ...call.allowHeaders, ...st], sdp);
  if (offer !== undefined) call.emit('reinvite', offer);
}

/**
 * §13.3.1.4: the UAS core retransmits its 2xx at T1, doubling up to T2,
 * until the ACK; with no ACK after 64*T1 the session ends with a BYE.
 */
function retransmit2xx(call: InDialogHost, res: SipResponse, to: TransportAddress, seq: number): void {
  const bytes = serializeMessage(res);
  const { t1, t2 } = call.ctx.timers;
  let interval = t1;
  let elapsed = 0;
  const tick = (): void => {
    elapsed += interval;
    if (elapsed >= 64 * t1) {
      call.pending2xx.delete(seq);
      call.log.warn({ cseq: seq }, 'no ACK for our 2xx to a re-INVITE, hanging up');
      void call.hangup();
      return;
    }
    call.ctx.layer.transport.sendRaw(bytes, to).catch(() => undefined);
    interval = Math.min(interval * 2, t2);
    call.pending2xx.set(seq, setTimeout(tick, interval));
  };
  clearTimeout(call.pending2xx.get(seq));
  call.pending2xx.set(seq, setTimeout(tick, interval));
}

function ackReceived(call: InDialogHost, req: SipRequest): void {
  const seq = getCSeq(req).seq;
  const t = call.pending2xx.get(seq);
  if (t === undefined) return;
  clearTimeout(t);
  call.pending2xx.delete(seq);
}

/**
 * Our re-INVITE inside the dialog (a session refresh, RFC 4028 §7.4) with
 * our current SDP as the offer; answers digest challenges (§22.2) and ACKs
 * the 2xx (and its retransmissions, §13.2.2.4). Never rejects: 408 on
 * timeout, 503 on transport error, 481 without a dialog.
 */
export async function reinvite(call: InDialogHost, headers: readonly SipHeader[]): Promise<{ status: number; reason: string; response?: SipResponse }> {
  const d = call.dialog;
  if (!d) return { status: 481, reason: 'Call/Transaction Does Not Exist' };
  const auth = call.newAuthenticator();
  for (let attempt = 0; ; attempt++) {
    const sdp = call.answerSdp(undefined);
    const req = d.buildRequest('INVITE', {
      via: call.ctx.newVia(), headers: [...headers, { name: 'User-Agent', value: call.ctx.userAgent }], body: sdp, contentType: 'application/sdp',
    });
    req.headers.push(...auth.headers('INVITE', req.uri, req.body));
    const to = d.destination();
    const seq = getCSeq(req).seq;
    const r = await new Promise<{ status: number; reason: string; response?: SipResponse }>((resolve) => {
      const tx = call.ctx.layer.sendInvite(req, to);
      let ack: Buffer | undefined;
      tx.on('response', (res) => {
        if (res.status < 200) return;
        if (res.status < 300) {
          ack ??= serializeMessage(d.buildRequest('ACK', {
            via: call.ctx.newVia(), cseq: seq, headers: req.headers.filter((h) => /^(proxy-)?authorization$/i.test(h.name)),
          }));
          call.ctx.layer.transport.sendRaw(ack, to).catch(() => undefined);
        }
        resolve({ status: res.status, reason: res.reason, response: res });
      });
      tx.on('timeout', () => resolve({ status: 408, reason: 'Request Timeout' }));
      tx.on('transportError', () => resolve({ status: 503, reason: 'Service Unavailable' }));
      tx.on('terminated', () => resolve({ status: 408, reason: 'Request Timeout' }));
    });
    if (attempt < 2 && r.response && auth.accept(r.response)) continue;
    if (r.response && r.status >= 200 && r.status < 300) d.refreshTarget(r.response);
    return r;
  }
}
