/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) and name-addr values of
 * From/To/Contact/Route (RFC 3261 §20.10). Pure; malformed input throws
 * `ParseError`.
 */
import { ParseError } from '../shared/index.js';
import { formatParams, parseParams, quote, splitOutside, type Params } from './headers.js';

export type UriScheme = 'sip' | 'sips' | 'tel';

/** A parsed URI. For `tel:` the number is in `user` and `host` is empty. */
export interface SipUri {
  scheme: UriScheme;
  user: string | undefined;
  password: string | undefined;
  host: string;
  port: number | undefined;
  /** URI parameters in order; names keep their case (compare with {@link uriParam}). */
  params: Map<string, string | null>;
  /** `?name=value&...` headers, in order. */
  headers: Map<string, string>;
}

// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved )
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
// password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
const PASSWORD_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const HOSTNAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
const IPV6_RE = /^\[[0-9A-Fa-f:.]+\]$/;
// paramchar / hnv-unreserved, loosely: anything printable but the delimiters.
const PCHAR_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HCHAR_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})*$/;
const TEL_RE = /^\+?[0-9A-Fa-f*#\-.()]+$/;

/** True when `s` is a valid RFC 3261 `user` part (no spaces, `<>`, `@`, `"`...). */
export function isValidUser(s: string): boolean {
  return USER_RE.test(s);
}

/** True when `s` is a host name, IPv4 address or bracketed IPv6 address. */
export function isValidHost(s: string): boolean {
  return HOSTNAME_RE.test(s) || IPV6_RE.test(s);
}

/** Parses a `sip:`, `sips:` or `tel:` URI. */
export function parseUri(input: string): SipUri {
  const s = input.trim();
  const colon = s.indexOf(':');
  if (colon < 0) throw new ParseError(`URI without scheme "${input}"`);
  const scheme = s.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') throw new ParseError(`unsupported URI scheme "${scheme}"`);
  let rest = s.slice(colon + 1);
  const headers = new Map<string, string>();
  const q = rest.indexOf('?');
  if (q >= 0) {
    if (scheme === 'tel') throw new ParseError(`tel URI with headers "${input}"`);
    for (const pair of rest.slice(q + 1).split('&')) {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      if (name === '' || !PCHAR_RE.test(name) || !HCHAR_RE.test(value)) throw new ParseError(`bad URI header in "${input}"`);
      headers.set(name, value);
    }
    rest = rest.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  if (scheme !== 'tel') {
    const at = rest.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = rest.slice(0, at);
      rest = rest.slice(at + 1);
      const pc = userinfo.indexOf(':');
      user = pc < 0 ? userinfo : userinfo.slice(0, pc);
      password = pc < 0 ? undefined : userinfo.slice(pc + 1);
      if (!USER_RE.test(user)) throw new ParseError(`bad URI user in "${input}"`);
      if (password !== undefined && !PASSWORD_RE.test(password)) throw new ParseError(`bad URI password in "${input}"`);
    }
  }
  const [hostport = '', ...paramPieces] = rest.split(';');
  const params = new Map<string, string | null>();
  for (const piece of paramPieces) {
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? null : piece.slice(eq + 1);
    if (!PCHAR_RE.test(name) || (value !== null && !PCHAR_RE.test(value))) throw new ParseError(`bad URI parameter in "${input}"`);
    params.set(name, value);
  }
  if (scheme === 'tel') {
    if (!TEL_RE.test(hostport)) throw new ParseError(`bad tel number in "${input}"`);
    return { scheme, user: hostport, password: undefined, host: '', port: undefined, params, headers };
  }
  let host = hostport;
  let port: number | undefined;
  const m = /^(.*?):(\d{1,5})$/.exec(hostport);
  if (m && !(hostport.startsWith('[') && !hostport.includes(']:'))) {
    host = m[1] ?? '';
    port = Number(m[2]);
    if (port < 1 || port > 65535) throw new ParseError(`bad URI port in "${input}"`);
  }
  if (!isValidHost(host)) throw new ParseError(`bad URI host in "${input}"`);
  return { scheme, user, password, host, port, params, headers };
}

/** Formats a URI (inverse of {@link parseUri}). */
export function formatUri(u: SipUri): string {
  let s = `${u.scheme}:`;
  if (u.scheme === 'tel') s += u.user ?? '';
  else {
    if (u.user !== undefined) s += u.password === undefined ? `${u.user}@` : `${u.user}:${u.password}@`;
    s += u.host;
    if (u.port !== undefined) s += `:${u.port}`;
  }
  for (const [k, v] of u.params) s += v === null ? `;${k}` : `;${k}=${v}`;
  let first = true;
  for (const [k, v] of u.headers) {
    s += `${first ? '?' : '&'}${k}=${v}`;
    first = false;
  }
  return s;
}

/** Case-insensitive URI parameter lookup (RFC 3261 §19.1.4). */
export function uriParam(u: SipUri, name: string): string | null | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of u.params) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** A copy of `u` without parameters and headers (e.g. a To URI from a Request-URI). */
export function bareUri(u: SipUri): SipUri {
  return { ...u, params: new Map(), headers: new Map() };
}

/** `"Display" <uri>;params` (RFC 3261 §20.10). */
export interface NameAddr {
  displayName: string | undefined;
  uri: SipUri;
  /** Header parameters (after `>`), lower-cased names; `tag` among them. */
  params: Params;
}

/** Parses a name-addr or addr-spec header value. */
export function parseNameAddr(input: string): NameAddr {
  const s = input.trim();
  let displayName: string | undefined;
  let i = 0;
  if (s.startsWith('"')) {
    let j = 1;
    let name = '';
    for (; j < s.length; j++) {
      const c = s[j];
      if (c === '\\') {
        name += s[j + 1] ?? '';
        j++;
      } else if (c === '"') break;
      else name += c;
    }
    if (j >= s.length) throw new ParseError(`unterminated display name in "${input}"`);
    displayName = name;
    i = j + 1;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '<') throw new ParseError(`expected "<" in "${input}"`);
  }
  const lt = s.indexOf('<', i);
  if (lt >= 0) {
    if (displayName === undefined) {
      const text = s.slice(0, lt).trim();
      if (/[<>"]/.test(text)) throw new ParseError(`bad display name in "${input}"`);
      displayName = text === '' ? undefined : text;
    }
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw new ParseError(`missing ">" in "${input}"`);
    const uri = parseUri(s.slice(lt + 1, gt));
    const after = s.slice(gt + 1).trim();
    if (after !== '' && !after.startsWith(';')) throw new ParseError(`junk after ">" in "${input}"`);
    return { displayName, uri, params: parseParams(splitOutside(after, ';').slice(1)) };
  }
  // addr-spec: every ';' parameter belongs to the header, not the URI (§20.10).
  const [spec = '', ...pieces] = splitOutside(s, ';');
  if (/[\s,?<>"]/.test(spec)) throw new ParseError(`bad addr-spec "${input}"`);
  return { displayName: undefined, uri: parseUri(spec), params: parseParams(pieces) };
}

/** Formats a name-addr, always with angle brackets and a quoted display name. */
export function formatNameAddr(n: NameAddr): string {
  const display = n.displayName === undefined ? '' : `${quote(n.displayName)} `;
  return `${display}<${formatUri(n.uri)}>${formatParams(n.params)}`;
}
