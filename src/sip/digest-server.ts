/**
 * Digest authentication of a request a far end sends us (RFC 3261 §22.4 as
 * the server side, RFC 7616): a challenge with a stateless nonce (its time
 * and an HMAC of it with a per-process key, valid for five minutes), and the
 * check of the Authorization the far end answers with. MD5 with qop=auth, the
 * common denominator of SIP devices.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { computeDigest, parseAuthParams } from './digest.js';
import { getHeader, type SipHeader, type SipRequest } from './message.js';

const NONCE_TTL_MS = 300_000;

export type DigestCheck = 'ok' | 'missing' | 'wrong' | 'stale';

export class DigestServer {
  readonly #key = randomBytes(32);

  constructor(private readonly realm: string) {}

  /** The 401's WWW-Authenticate (`stale=true` when the far end's nonce only expired). */
  challenge(stale = false): SipHeader {
    const ts = Date.now().toString(36);
    const nonce = `${ts}.${this.#mac(ts)}`;
    return { name: 'WWW-Authenticate', value: `Digest realm="${this.realm}", nonce="${nonce}", algorithm=MD5, qop="auth"${stale ? ', stale=true' : ''}` };
  }

  /** Whether `req` carries a valid Authorization for `user` / `password` (our realm, our nonce, the right response). */
  check(req: SipRequest, user: string, password: string): DigestCheck {
    const h = getHeader(req, 'Authorization');
    if (h === undefined) return 'missing';
    const m = /^\s*Digest\s+(.*)$/is.exec(h);
    if (!m) return 'wrong';
    let p: Map<string, string>;
    try {
      p = parseAuthParams(m[1] ?? '');
    } catch {
      return 'wrong';
    }
    const nonce = p.get('nonce') ?? '';
    const [ts, mac] = nonce.split('.');
    if (p.get('realm') !== this.realm || ts === undefined || mac === undefined || !safeEqual(mac, this.#mac(ts))) return 'wrong';
    if (p.get('username') !== user || (p.get('algorithm') ?? 'MD5').toUpperCase() !== 'MD5') return 'wrong';
    const qop = p.get('qop');
    const expected = computeDigest({
      challenge: { realm: this.realm, nonce, opaque: undefined, algorithm: 'MD5', qop: qop ? [qop] : [], stale: false },
      username: user, password, method: req.method, uri: p.get('uri') ?? '',
      cnonce: p.get('cnonce'), nc: Number.parseInt(p.get('nc') ?? '1', 16),
    }).response;
    if (!safeEqual(p.get('response') ?? '', expected)) return 'wrong';
    return Date.now() - Number.parseInt(ts, 36) > NONCE_TTL_MS ? 'stale' : 'ok';
  }

  #mac(ts: string): string {
    return createHmac('sha256', this.#key).update(ts).digest('base64url').slice(0, 22);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
