/**
 * Digest credentials across retries of one request (RFC 3261 §22.2, §22.3):
 * remembers the challenges per realm, refuses a second challenge for a realm
 * already answered (wrong password) unless the nonce was only stale.
 */
import { computeDigest, selectChallenge, type DigestChallenge } from './digest.js';
import { getHeaders, type SipHeader, type SipResponse } from './message.js';

export interface Credentials {
  username: string;
  password: string;
}

interface Entry {
  header: 'Authorization' | 'Proxy-Authorization';
  challenge: DigestChallenge;
  nc: number;
  staleRetried: boolean;
}

export class Authenticator {
  readonly #creds: Credentials | undefined;
  readonly #entries = new Map<string, Entry>();

  constructor(creds: Credentials | undefined) {
    this.#creds = creds;
  }

  /** Takes a 401/407; true when a retry with (new) credentials makes sense. */
  accept(res: SipResponse): boolean {
    if (!this.#creds || (res.status !== 401 && res.status !== 407)) return false;
    const proxy = res.status === 407;
    const challenge = selectChallenge(getHeaders(res, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'));
    if (!challenge) return false;
    const key = `${res.status}|${challenge.realm}`;
    const prev = this.#entries.get(key);
    if (prev) {
      // A second challenge for the same realm means the credentials were refused,
      // unless the server only says the nonce went stale (RFC 7616 §3.3).
      if (!challenge.stale || prev.staleRetried || challenge.nonce === prev.challenge.nonce) return false;
    }
    this.#entries.set(key, { header: proxy ? 'Proxy-Authorization' : 'Authorization', challenge, nc: 0, staleRetried: prev !== undefined });
    return true;
  }

  /** Authorization headers for every realm seen so far, for a request with this method, Request-URI and body. */
  headers(method: string, uri: string, body?: Buffer): SipHeader[] {
    const creds = this.#creds;
    if (!creds) return [];
    const out: SipHeader[] = [];
    for (const e of this.#entries.values()) {
      e.nc++;
      const { header } = computeDigest({ challenge: e.challenge, username: creds.username, password: creds.password, method, uri, nc: e.nc, body });
      out.push({ name: e.header, value: header });
    }
    return out;
  }
}
