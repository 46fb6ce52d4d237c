/**
 * Registration (RFC 3261 §10.2): REGISTER with digest retries, refresh before
 * the granted expiry, and removal (`Expires: 0`) at the end. One Call-ID and
 * a growing CSeq across refreshes (§10.2.4). Created by `SipUserAgent.register()`.
 */
import { TypedEmitter, type Logger } from '../shared/index.js';
import { Authenticator, type Credentials } from './auth.js';
import type { CallContext } from './call-types.js';
import { initialCSeq, newTag } from './ids.js';
import { getHeader, getHeaders, type SipResponse } from './message.js';
import { request, type FinalResponse } from './request.js';
import type { TransportAddress } from './transport.js';
import { parseNameAddr } from './uri.js';
import { randomBytes } from 'node:crypto';

export interface RegisterOptions {
  /** The address-of-record: `sip:<user>@<domain>`. */
  user: string;
  domain: string;
  /** Where the REGISTER goes (registrar or outbound proxy). */
  destination: TransportAddress;
  auth?: Credentials;
  /** Requested expiry in seconds; defaults to the user agent's. */
  expiresS?: number;
  /** Appended to our Contact (`sipContactParams`). */
  contactParams?: string;
  transport?: CallContext['protocol'];
  log: Logger;
}

export type RegistrationEvents = {
  /** A REGISTER (first or refresh) succeeded; the expiry the registrar granted. */
  registered: [expiresS: number];
  /** A refresh failed (status 408 on timeout, 503 on transport error). */
  refreshFailed: [status: number, reason: string];
};

export interface RegisterResult {
  status: number;
  reason: string;
}

/** One binding of our Contact at a registrar. */
export class SipRegistration extends TypedEmitter<RegistrationEvents> {
  readonly callId = randomBytes(12).toString('base64url');
  readonly #ctx: CallContext;
  readonly #opts: RegisterOptions & { expiresS: number };
  readonly #fromTag = newTag();
  readonly #contact: string;
  readonly #auth: Authenticator;
  #cseq = initialCSeq();
  #refresh: NodeJS.Timeout | undefined;
  #registered = false;
  #closed = false;
  readonly #onDone: () => void;

  /** @internal Use `SipUserAgent.register()`. */
  constructor(ctx: CallContext, opts: RegisterOptions & { expiresS: number }, onDone: () => void = () => undefined) {
    super((event, err) => opts.log.error({ err, event }, 'registration listener threw'));
    this.#ctx = ctx;
    this.#opts = opts;
    this.#onDone = onDone;
    this.#auth = new Authenticator(opts.auth);
    const { host, port } = ctx.localAddress;
    const h = host.includes(':') ? `[${host}]` : host;
    const tp = ctx.protocol === 'UDP' ? '' : `;transport=${ctx.protocol.toLowerCase()}`;
    this.#contact = `<sip:${opts.user}@${h}:${port}${tp}>${opts.contactParams ?? ''}`;
  }

  /** True while a binding is in place. */
  get registered(): boolean {
    return this.#registered;
  }

  /** Registers; resolves with the final status (2xx: bound, and refreshes are scheduled). */
  async register(): Promise<RegisterResult> {
    const r = await this.#send(this.#opts.expiresS);
    if (r.status >= 200 && r.status < 300 && r.response) {
      if (this.#closed) {
        // Unregistered while the REGISTER was in flight: take the binding back.
        await this.#send(0);
        return { status: r.status, reason: r.reason };
      }
      this.#onBound(r.response);
    }
    return { status: r.status, reason: r.reason };
  }

  /** Removes the binding (`Expires: 0`, §10.2.2) and stops refreshing; idempotent. */
  async unregister(): Promise<RegisterResult | undefined> {
    if (this.#closed) return undefined;
    this.close();
    if (!this.#registered) return undefined;
    this.#registered = false;
    const r = await this.#send(0);
    this.#opts.log.info({ status: r.status }, 'unregistered');
    return { status: r.status, reason: r.reason };
  }

  /** Stops refreshing without a REGISTER (shutdown). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#refresh);
    this.#onDone();
  }

  #onBound(res: SipResponse): void {
    this.#registered = true;
    const granted = grantedExpiry(res, this.#contact) ?? this.#opts.expiresS;
    this.#opts.log.info({ expiresS: granted }, 'registered');
    this.emit('registered', granted);
    if (this.#closed || granted <= 0) return;
    // Refresh well before the binding lapses: half-way for short bindings, a minute early for long ones.
    const inS = granted <= 120 ? granted / 2 : granted - 60;
    this.#refresh = setTimeout(() => void this.#doRefresh(), inS * 1000);
  }

  async #doRefresh(): Promise<void> {
    if (this.#closed) return;
    const r = await this.#send(this.#opts.expiresS);
    if (this.#closed) return;
    if (r.status >= 200 && r.status < 300 && r.response) this.#onBound(r.response);
    else {
      this.#opts.log.warn({ status: r.status, reason: r.reason }, 'registration refresh failed');
      this.emit('refreshFailed', r.status, r.reason);
    }
  }

  async #send(expiresS: number): Promise<FinalResponse> {
    const o = this.#opts;
    const uri = `sip:${o.domain}`;
    const aor = `<sip:${o.user}@${o.domain}>`;
    const r = await request(() => ({
      type: 'request',
      method: 'REGISTER',
      uri,
      headers: [
        { name: 'Via', value: this.#ctx.newVia() },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `${aor};tag=${this.#fromTag}` },
        { name: 'To', value: aor },
        { name: 'Call-ID', value: this.callId },
        { name: 'CSeq', value: `${++this.#cseq} REGISTER` },
        { name: 'Contact', value: this.#contact },
        { name: 'Expires', value: String(expiresS) },
        { name: 'User-Agent', value: this.#ctx.userAgent },
      ],
      body: Buffer.alloc(0),
    }), { layer: this.#ctx.layer, to: o.destination, auth: this.#auth });
    if (this.#auth.refusal !== undefined) o.log.warn({ status: r.status, why: this.#auth.refusal }, 'REGISTER challenge not answered');
    return r;
  }
}

/** §10.3 step 8 / §10.2.4: the expiry of our Contact in the 200 (its `expires` parameter, else Expires). */
function grantedExpiry(res: SipResponse, ourContact: string): number | undefined {
  let ours: { host: string; port: number | undefined } | undefined;
  try {
    ours = parseNameAddr(ourContact).uri;
  } catch {
    ours = undefined;
  }
  for (const c of getHeaders(res, 'Contact')) {
    try {
      const n = parseNameAddr(c);
      const e = n.params.get('expires');
      if (n.uri.host === ours?.host && n.uri.port === ours.port && e && /^\d+$/.test(e)) return Number(e);
    } catch {
      // another binding we cannot read: skip it
    }
  }
  const h = getHeader(res, 'Expires');
  return h !== undefined && /^\d+$/.test(h.trim()) ? Number(h.trim()) : undefined;
}
