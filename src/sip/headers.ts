/**
 * Pure helpers for SIP header values (RFC 3261 §7.3, §20, §25.1): parameter
 * lists, comma-separated lists, Via and CSeq. No I/O; malformed input throws
 * `ParseError`.
 */
import { ParseError } from '../shared/index.js';

/** Ordered header/URI parameters; a parameter without `=value` maps to `null`. */
export type Params = Map<string, string | null>;

/** RFC 3261 §25.1 `token` characters. */
export const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/**
 * Splits `s` on `sep` outside double-quoted strings and `<...>` (a URI inside
 * angle brackets may hold `;` and `,`, RFC 3261 §20.10). Pieces are trimmed.
 */
export function splitOutside(s: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let angle = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') angle++;
    else if (c === '>') angle = Math.max(0, angle - 1);
    else if (c === sep && angle === 0) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (quoted) throw new ParseError('unterminated quoted string');
  out.push(s.slice(start).trim());
  return out;
}

/**
 * Parses `;name=value;flag` pieces (the part after the main value) into a
 * map. Names are lower-cased (header parameter names are case-insensitive,
 * RFC 3261 §7.3.1); values are kept verbatim, quotes included.
 */
export function parseParams(pieces: readonly string[]): Params {
  const params: Params = new Map();
  for (const piece of pieces) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = (eq < 0 ? piece : piece.slice(0, eq)).trim().toLowerCase();
    if (!TOKEN_RE.test(name)) throw new ParseError(`bad parameter name "${name}"`);
    const value = eq < 0 ? null : piece.slice(eq + 1).trim();
    if (value !== null && value === '') throw new ParseError(`empty value for parameter "${name}"`);
    params.set(name, value);
  }
  return params;
}

/** Formats parameters back as `;a=b;c`. */
export function formatParams(params: Params): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Splits `value;p=1;q` into the main value and its parameters. */
export function parseValueWithParams(s: string): { value: string; params: Params } {
  const [value = '', ...rest] = splitOutside(s, ';');
  return { value, params: parseParams(rest) };
}

/** Removes surrounding quotes and backslash escapes of a quoted-string (RFC 3261 §25.1). */
export function unquote(s: string): string {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return s;
  return s.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Quotes `s` as a quoted-string. */
export function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** One Via header value (RFC 3261 §20.42). */
export interface Via {
  /** Transport, upper-case: `UDP`, `TCP`, `TLS`, ... */
  transport: string;
  host: string;
  port: number | undefined;
  params: Params;
}

const VIA_RE = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:\s*:\s*(\d{1,5}))?$/i;

/** Parses one Via value; throws `ParseError` when malformed. */
export function parseVia(value: string): Via {
  const { value: sentBy, params } = parseValueWithParams(value);
  const m = VIA_RE.exec(sentBy);
  if (!m) throw new ParseError(`bad Via "${value}"`);
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new ParseError(`bad Via port in "${value}"`);
  return { transport: (m[1] ?? '').toUpperCase(), host: m[2] ?? '', port, params };
}

/** Formats a Via value. */
export function formatVia(via: Via): string {
  const port = via.port === undefined ? '' : `:${via.port}`;
  return `SIP/2.0/${via.transport} ${via.host}${port}${formatParams(via.params)}`;
}

/** The magic cookie that marks RFC 3261 branch ids (§8.1.1.7). */
export const BRANCH_COOKIE = 'z9hG4bK';

/** CSeq header value (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** Parses `CSeq: 4711 INVITE`; the number must be below 2^31 (§8.1.1.5). */
export function parseCSeq(value: string): CSeq {
  const m = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/.exec(value.trim());
  if (!m) throw new ParseError(`bad CSeq "${value}"`);
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) throw new ParseError(`CSeq number too large "${value}"`);
  return { seq, method: m[2] ?? '' };
}
