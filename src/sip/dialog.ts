/**
 * Dialog state (RFC 3261 §12), ours as UAC or as UAS: identifiers, route set, remote target and
 * CSeq spaces, and construction of in-dialog requests (§12.2.1.1). Pure: no
 * sockets, no timers.
 */
import { InvalidStateError, ParseError } from '../shared/index.js';
import { bodyText, getCallId, getCSeq, getHeader, getHeaders, getTo, tagOf, type SipHeader, type SipRequest, type SipResponse } from './message.js';
import { formatUri, parseNameAddr, parseUri, uriParam, type SipUri } from './uri.js';
import type { TransportAddress } from './transport.js';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export const DIALOG_TRANSITIONS: Readonly<Record<DialogState, readonly DialogState[]>> = {
  early: ['confirmed', 'terminated'],
  confirmed: ['terminated'],
  terminated: [],
};

export interface InDialogRequestOptions {
  /** The Via value for the request (with a fresh branch). */
  via: string;
  /** CSeq number to use instead of the next one (the ACK for a 2xx reuses the INVITE's). */
  cseq?: number;
  headers?: readonly SipHeader[];
  body?: string | Buffer;
  contentType?: string;
}

/** A dialog created by our INVITE, or by our answer to a far end's. */
export class Dialog {
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  /** Our From header value, tag included, reused on every request (§12.2.1.1). */
  readonly localHeader: string;
  /** The remote party's To header value, tag included. */
  readonly remoteHeader: string;
  /** Where in-dialog requests are addressed (the Contact of the far end). */
  remoteTarget: string;
  /** Route header values, in the order they are sent. */
  routeSet: readonly string[];
  localSeq: number;
  remoteSeq: number | undefined;
  #state: DialogState;

  private constructor(init: {
    callId: string; localTag: string; remoteTag: string; localHeader: string; remoteHeader: string;
    remoteTarget: string; routeSet: readonly string[]; localSeq: number; state: DialogState;
  }) {
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localHeader = init.localHeader;
    this.remoteHeader = init.remoteHeader;
    this.remoteTarget = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeq = init.localSeq;
    this.remoteSeq = undefined;
    this.#state = init.state;
  }

  /**
   * §12.1.2: a dialog from a 1xx (early) or 2xx (confirmed) response to our
   * INVITE that carries a To tag. The route set is the Record-Route list
   * reversed; the remote target is the response's Contact.
   */
  static fromUacResponse(invite: SipRequest, res: SipResponse): Dialog {
    if (res.status < 101 || res.status >= 300) throw new InvalidStateError(`no dialog from a ${res.status}`);
    const remoteTag = tagOf(getTo(res));
    if (remoteTag === undefined) throw new ParseError('response without To tag cannot create a dialog');
    const localHeader = getHeader(invite, 'From') ?? '';
    const localTag = parseNameAddr(localHeader).params.get('tag');
    if (!localTag) throw new ParseError('INVITE without From tag');
    return new Dialog({
      callId: getCallId(invite),
      localTag,
      remoteTag,
      localHeader,
      remoteHeader: getHeader(res, 'To') ?? '',
      remoteTarget: contactUri(res) ?? invite.uri,
      routeSet: getHeaders(res, 'Record-Route').reverse(),
      localSeq: getCSeq(invite).seq,
      state: res.status < 200 ? 'early' : 'confirmed',
    });
  }

  /**
   * §12.1.1: the dialog our 2xx to a far end's INVITE creates. The route set
   * is the request's Record-Route list in order; the remote target its
   * Contact; our To (with `localTag`) becomes our From; our CSeq starts anew.
   */
  static fromUasRequest(invite: SipRequest, localTag: string, localSeq: number): Dialog {
    const remoteHeader = getHeader(invite, 'From') ?? '';
    const remoteTag = parseNameAddr(remoteHeader).params.get('tag');
    if (!remoteTag) throw new ParseError('INVITE without From tag');
    const d = new Dialog({
      callId: getCallId(invite),
      localTag,
      remoteTag,
      localHeader: `${getHeader(invite, 'To') ?? ''};tag=${localTag}`,
      remoteHeader,
      remoteTarget: contactUri(invite) ?? formatUri(parseNameAddr(remoteHeader).uri),
      routeSet: getHeaders(invite, 'Record-Route'),
      localSeq,
      state: 'early',
    });
    d.remoteSeq = getCSeq(invite).seq;
    return d;
  }

  get state(): DialogState {
    return this.#state;
  }

  transition(to: DialogState): void {
    if (to === this.#state) return;
    if (!DIALOG_TRANSITIONS[this.#state].includes(to)) throw new InvalidStateError(`dialog: ${this.#state} → ${to}`);
    this.#state = to;
  }

  /** A 2xx for an early dialog confirms it; its route set and target replace the early ones (§12.1.2, §13.2.2.4). */
  confirm(res: SipResponse): void {
    this.transition('confirmed');
    this.routeSet = getHeaders(res, 'Record-Route').reverse();
    this.refreshTarget(res);
  }

  /** Target refresh (§12.2): a Contact in a re-INVITE/UPDATE or its response replaces the remote target. */
  refreshTarget(msg: SipRequest | SipResponse): void {
    const uri = contactUri(msg);
    if (uri !== undefined) this.remoteTarget = uri;
  }

  /** True when `msg` belongs to this dialog (Call-ID and both tags, §12). */
  matchesRequest(req: SipRequest): boolean {
    try {
      const fromTag = tagOf(parseNameAddr(getHeader(req, 'From') ?? ''));
      return getCallId(req) === this.callId && tagOf(getTo(req)) === this.localTag && fromTag === this.remoteTag;
    } catch {
      return false;
    }
  }

  /**
   * §12.2.2: accepts a request from the far end when its CSeq is not lower
   * than the last one; records it. ACK and CANCEL are not checked.
   */
  acceptRemoteCSeq(req: SipRequest): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return true;
    const seq = getCSeq(req).seq;
    if (this.remoteSeq !== undefined && seq < this.remoteSeq) return false;
    this.remoteSeq = seq;
    return true;
  }

  /** Builds an in-dialog request (§12.2.1.1); takes the next local CSeq unless `opts.cseq` is given. */
  buildRequest(method: string, opts: InDialogRequestOptions): SipRequest {
    const seq = opts.cseq ?? ++this.localSeq;
    const { requestUri, routes } = this.#routing();
    const headers: SipHeader[] = [
      { name: 'Via', value: opts.via },
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: this.localHeader },
      { name: 'To', value: this.remoteHeader },
      { name: 'Call-ID', value: this.callId },
      { name: 'CSeq', value: `${seq} ${method}` },
    ];
    for (const r of routes) headers.push({ name: 'Route', value: r });
    if (opts.headers) headers.push(...opts.headers);
    const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, 'utf8');
    if (body.length > 0 && opts.contentType) headers.push({ name: 'Content-Type', value: opts.contentType });
    return { type: 'request', method, uri: requestUri, headers, body };
  }

  /** Where in-dialog requests are sent: the first route, or the remote target (§8.1.2, §12.2.1.1). */
  destination(): TransportAddress {
    const first = this.routeSet[0];
    const uri = first === undefined ? parseUri(this.remoteTarget) : parseNameAddr(first).uri;
    return uriAddress(uri);
  }

  /** §12.2.1.1: loose routing when the first route has `;lr`, strict routing otherwise. */
  #routing(): { requestUri: string; routes: string[] } {
    const first = this.routeSet[0];
    if (first === undefined) return { requestUri: this.remoteTarget, routes: [] };
    const firstUri = parseNameAddr(first).uri;
    if (uriParam(firstUri, 'lr') !== undefined) return { requestUri: this.remoteTarget, routes: [...this.routeSet] };
    return { requestUri: uriWithoutHeaders(first), routes: [...this.routeSet.slice(1), `<${this.remoteTarget}>`] };
  }
}

/** The SDP (or other) body of a message as text, or undefined when empty. */
export function bodyOrUndefined(msg: SipRequest | SipResponse): string | undefined {
  return msg.body.length > 0 ? bodyText(msg) : undefined;
}

function contactUri(msg: SipRequest | SipResponse): string | undefined {
  const c = getHeader(msg, 'Contact');
  if (c === undefined || c === '*') return undefined;
  parseNameAddr(c); // validates
  return innerUri(c);
}

/** The URI text inside a Contact value (kept verbatim, parameters included). */
function innerUri(value: string): string {
  const lt = value.indexOf('<');
  const gt = value.indexOf('>', lt);
  if (lt >= 0 && gt > lt) return value.slice(lt + 1, gt).trim();
  return (value.split(';')[0] ?? value).trim();
}

function uriWithoutHeaders(route: string): string {
  const lt = route.indexOf('<');
  const gt = route.indexOf('>', lt);
  const inner = lt >= 0 && gt > lt ? route.slice(lt + 1, gt) : route;
  return inner.split('?')[0] ?? inner;
}

/** Transport address of a SIP URI: `maddr` if any, else host, port or the scheme's default (RFC 3263 without DNS SRV). */
export function uriAddress(uri: SipUri): TransportAddress {
  const maddr = uriParam(uri, 'maddr');
  const host = (typeof maddr === 'string' ? maddr : uri.host).replace(/^\[(.*)\]$/, '$1');
  return { host, port: uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060) };
}
