/**
 * HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 7616, RFC 2617):
 * parses WWW-Authenticate / Proxy-Authenticate challenges and builds the
 * Authorization / Proxy-Authorization value. MD5, SHA-256, SHA-512-256 and
 * their `-sess` variants; qop `auth`, `auth-int`, and the legacy no-qop form.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ParseError } from '../shared/index.js';
import { quote } from './headers.js';

export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

const HASHES: Readonly<Record<string, string>> = { 'MD5': 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/** A parsed Digest challenge. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: DigestAlgorithm;
  /** Offered qop values, lower-case; empty for an RFC 2069 style challenge. */
  qop: string[];
  stale: boolean;
}

/**
 * Parses `k=v, k="quoted, value"` auth-params (RFC 7235 §2.1). Names are
 * lower-cased, values unquoted.
 */
export function parseAuthParams(s: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
    if (i >= n) break;
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new ParseError(`bad auth-param in "${s.slice(0, 80)}"`);
    const name = s.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9\-_.!%*+`'~]+$/.test(name)) throw new ParseError(`bad auth-param name "${name.slice(0, 40)}"`);
    i = eq + 1;
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    let value = '';
    if (s[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = s[i];
        if (c === '\\' && i + 1 < n) {
          value += s[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) throw new ParseError('unterminated quoted auth-param');
    } else {
      const end = s.indexOf(',', i);
      value = (end < 0 ? s.slice(i) : s.slice(i, end)).trim();
      i = end < 0 ? n : end;
    }
    out.set(name, value);
  }
  return out;
}

function normalizeAlgorithm(a: string | undefined): DigestAlgorithm | undefined {
  if (a === undefined || a === '') return 'MD5';
  const upper = a.toUpperCase();
  for (const alg of ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const) {
    if (alg.toUpperCase() === upper) return alg;
  }
  return undefined;
}

/** Parses one `Digest ...` challenge; throws `ParseError` for other schemes, unknown algorithms or missing fields. */
export function parseChallenge(header: string): DigestChallenge {
  const m = /^\s*([A-Za-z0-9\-_]+)\s+(.*)$/s.exec(header);
  if (!m || (m[1] ?? '').toLowerCase() !== 'digest') throw new ParseError('not a Digest challenge');
  const p = parseAuthParams(m[2] ?? '');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined) throw new ParseError('Digest challenge without realm or nonce');
  const algorithm = normalizeAlgorithm(p.get('algorithm'));
  if (!algorithm) throw new ParseError(`unsupported Digest algorithm "${p.get('algorithm') ?? ''}"`);
  const qop = (p.get('qop') ?? '').split(',').map((q) => q.trim().toLowerCase()).filter((q) => q !== '');
  return { realm, nonce, opaque: p.get('opaque'), algorithm, qop, stale: (p.get('stale') ?? '').toLowerCase() === 'true' };
}

/** Strength of an algorithm, for choosing among challenges (RFC 7616 §3.7: the client uses the strongest it supports). */
const STRENGTH: Readonly<Record<DigestAlgorithm, number>> = {
  'MD5': 0, 'MD5-sess': 0, 'SHA-256': 2, 'SHA-256-sess': 2, 'SHA-512-256': 3, 'SHA-512-256-sess': 3,
};

/**
 * The strongest challenge we can answer among a response's header values:
 * the strongest algorithm, and among equals one with qop (RFC 2069's no-qop
 * form protects nothing against replay) — whatever order the server listed
 * them in (a downgrade to MD5 without qop by ordering is refused). Undefined
 * when none can be answered.
 */
export function selectChallenge(headers: readonly string[]): DigestChallenge | undefined {
  let best: { c: DigestChallenge; score: number } | undefined;
  for (const h of headers) {
    let c: DigestChallenge;
    try {
      c = parseChallenge(h);
    } catch {
      continue; // another scheme or an algorithm we do not have
    }
    const withQop = c.qop.includes('auth') || c.qop.includes('auth-int');
    if (c.qop.length > 0 && !withQop) continue;
    const score = STRENGTH[c.algorithm] * 2 + (withQop ? 1 : 0);
    if (best === undefined || score > best.score) best = { c, score };
  }
  return best?.c;
}

export interface DigestInput {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  /** The digest-uri: the Request-URI of the request being authorized. */
  uri: string;
  /** Client nonce; random when omitted. */
  cnonce?: string;
  /** Nonce count, 1 for the first use of a nonce (RFC 7616 §3.4). */
  nc?: number;
  /** Request body, for qop=auth-int. */
  body?: Buffer;
}

export interface DigestResult {
  /** The header value, `Digest username="...", ...`. */
  header: string;
  /** The response hex, for tests and logs. */
  response: string;
}

function hash(alg: DigestAlgorithm, data: string | Buffer): string {
  const base = alg.replace(/-sess$/, '');
  return createHash(HASHES[base] ?? 'md5').update(data).digest('hex');
}

/** Computes the digest response and formats the credentials (RFC 7616 §3.4). */
export function computeDigest(input: DigestInput): DigestResult {
  const { challenge: c, username, password, method, uri } = input;
  const alg = c.algorithm;
  const qop = c.qop.includes('auth') ? 'auth' : c.qop.includes('auth-int') ? 'auth-int' : undefined;
  if (c.qop.length > 0 && qop === undefined) throw new ParseError(`unsupported qop "${c.qop.join(',')}"`);
  const cnonce = input.cnonce ?? randomBytes(12).toString('base64url');
  const nc = (input.nc ?? 1).toString(16).padStart(8, '0');
  let ha1 = hash(alg, `${username}:${c.realm}:${password}`);
  // §3.4.2: the -sess variants hash the nonces into A1.
  if (alg.endsWith('-sess')) ha1 = hash(alg, `${ha1}:${c.nonce}:${cnonce}`);
  const a2 = qop === 'auth-int' ? `${method}:${uri}:${hash(alg, input.body ?? Buffer.alloc(0))}` : `${method}:${uri}`;
  const ha2 = hash(alg, a2);
  const response = qop === undefined
    ? hash(alg, `${ha1}:${c.nonce}:${ha2}`) // RFC 2069 compatibility (RFC 2617 §3.2.2.1)
    : hash(alg, `${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(c.realm)}`,
    `nonce=${quote(c.nonce)}`,
    `uri=${quote(uri)}`,
    `response="${response}"`,
    `algorithm=${alg}`,
  ];
  if (qop !== undefined) parts.push(`cnonce=${quote(cnonce)}`, `qop=${qop}`, `nc=${nc}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quote(c.opaque)}`);
  return { header: `Digest ${parts.join(', ')}`, response };
}
