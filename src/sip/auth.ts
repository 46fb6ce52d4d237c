/**
 * Digest credentials across retries of one request (RFC 3261 §22.2, §22.3):
 * remembers the challenges per realm, refuses a second challenge for a realm
 * already answered (wrong password) unless the nonce was only stale, answers
 * only the realms the credentials are for, and at most
 * {@link MAX_CHALLENGES} challenges per request (a server that keeps changing
 * the realm gets no endless retries).
 */
import { computeDigest, selectChallenge, type DigestChallenge } from './digest.js';
import { getHeaders, type SipHeader, type SipResponse } from './message.js';

export interface Credentials {
  username: string;
  password: string;
  /**
   * Realms these credentials may answer (lower-case; `*` = any). Absent: any
   * realm. A challenge for another realm is not answered: a redirect target
   * or a stranger must not get a digest of our password.
   */
  realms?: readonly string[];
}

/** Challenges answered per request: a proxy's 407 and the far end's 401 (a stale nonce may add one more). */
export const MAX_CHALLENGES = 2;

interface Entry {
  header: 'Authorization' | 'Proxy-Authorization';
  challenge: DigestChallenge;
  nc: number;
  staleRetried: boolean;
}

export class Authenticator {
  readonly #creds: Credentials | undefined;
  readonly #entries = new Map<string, Entry>();
  #answered = 0;
  /** Why the last challenge was not answered, for the log (undefined when it was, or for a wrong password). */
  refusal: string | undefined;

  constructor(creds: Credentials | undefined) {
    this.#creds = creds;
  }

  /** Takes a 401/407; true when a retry with (new) credentials makes sense. */
  accept(res: SipResponse): boolean {
    if (!this.#creds || (res.status !== 401 && res.status !== 407)) return false;
    const proxy = res.status === 407;
    this.refusal = undefined;
    const challenge = selectChallenge(getHeaders(res, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'));
    if (!challenge) {
      this.refusal = 'no Digest challenge we can answer';
      return false;
    }
    const realms = this.#creds.realms;
    if (realms !== undefined && !realms.includes('*') && !realms.includes(challenge.realm.toLowerCase())) {
      this.refusal = `realm "${challenge.realm.slice(0, 80)}" is not one these credentials are for (sip.authRealms)`;
      return false;
    }
    const key = `${res.status}|${challenge.realm}`;
    const prev = this.#entries.get(key);
    if (prev) {
      // A second challenge for the same realm means the credentials were refused,
      // unless the server only says the nonce went stale (RFC 7616 §3.3).
      if (!challenge.stale || prev.staleRetried || challenge.nonce === prev.challenge.nonce) return false;
    } else if (this.#answered >= MAX_CHALLENGES) {
      this.refusal = `more than ${MAX_CHALLENGES} challenges for one request`;
      return false;
    } else {
      this.#answered++;
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
