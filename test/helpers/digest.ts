/**
 * HTTP/SIP digest arithmetic (RFC 7616 §3.4.1, as used by SIP per RFC 3261
 * §22.4): lets a test check an Authorization header SIPp cannot check
 * itself (SIPp 3.6.1 verifies MD5 only, not SHA-256).
 */
import { createHash } from 'node:crypto';

/** Digest algorithms the gateway must speak (RFC 7616 §3.4). */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** Inputs of {@link digestResponse}. */
export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  /** With qop=auth: nonce count (8 hex digits) and client nonce. */
  qop?: 'auth';
  nc?: string;
  cnonce?: string;
}

function h(alg: DigestAlgorithm, s: string): string {
  return createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s, 'utf8').digest('hex');
}

/** The `response` value: KD(H(A1), nonce[:nc:cnonce:qop]:H(A2)) (RFC 7616 §3.4.1). */
export function digestResponse(i: DigestInput): string {
  const ha1 = h(i.algorithm, `${i.username}:${i.realm}:${i.password}`);
  const ha2 = h(i.algorithm, `${i.method}:${i.uri}`);
  if (i.qop === 'auth') return h(i.algorithm, `${ha1}:${i.nonce}:${i.nc ?? ''}:${i.cnonce ?? ''}:auth:${ha2}`);
  return h(i.algorithm, `${ha1}:${i.nonce}:${ha2}`);
}

/** Parses `Digest k=v, k="v", ...` (header value, with or without the header name). */
export function parseDigestParams(header: string): Record<string, string> {
  const s = header.replace(/^\s*(?:(?:Proxy-)?Authorization|WWW-Authenticate|Proxy-Authenticate)\s*:\s*/i, '');
  const body = s.replace(/^\s*Digest\s+/i, '');
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (const m of body.matchAll(re)) {
    out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return out;
}

/**
 * True when `authorization` (an Authorization header, as the gateway sent
 * it) carries the right response for `password` and `method`.
 */
export function verifyDigest(authorization: string, p: { method: string; password: string }): boolean {
  const a = parseDigestParams(authorization);
  const algorithm = (a.algorithm ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') return false;
  if (!a.username || a.realm === undefined || !a.nonce || !a.uri || !a.response) return false;
  const expected = digestResponse({
    algorithm,
    username: a.username,
    realm: a.realm,
    password: p.password,
    method: p.method,
    uri: a.uri,
    nonce: a.nonce,
    qop: a.qop === 'auth' ? 'auth' : undefined,
    nc: a.nc,
    cnonce: a.cnonce,
  });
  return expected === a.response.toLowerCase();
}
