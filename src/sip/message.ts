/**
 * SIP message parser and serializer (RFC 3261 §7). Pure: bytes in, values out;
 * anything malformed throws `ParseError` and nothing else.
 */
import { ParseError } from '../shared/index.js';
import { parseCSeq, parseVia, splitOutside, TOKEN_RE, type CSeq, type Via } from './headers.js';
import { parseNameAddr, type NameAddr } from './uri.js';

/** One header line; `name` keeps its spelling (compact forms are expanded). */
export interface SipHeader {
  name: string;
  value: string;
}

interface SipMessageBase {
  /** Header lines in order; one entry per line as received (lists not split). */
  headers: SipHeader[];
  body: Buffer;
}

export interface SipRequest extends SipMessageBase {
  readonly type: 'request';
  method: string;
  uri: string;
}

export interface SipResponse extends SipMessageBase {
  readonly type: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Compact header forms (RFC 3261 §7.3.3, RFC 3515, RFC 4028). */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'Call-ID', f: 'From', t: 'To', v: 'Via', m: 'Contact', l: 'Content-Length', c: 'Content-Type',
  k: 'Supported', s: 'Subject', e: 'Content-Encoding', r: 'Refer-To', o: 'Event', x: 'Session-Expires',
  u: 'Allow-Events', b: 'Referred-By',
};

/** Headers whose values are comma-separated lists (RFC 3261 §7.3.1); others are never split. */
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding', 'in-reply-to',
  'alert-info', 'call-info', 'error-info', 'warning', 'path', 'service-route', 'p-asserted-identity',
]);

/** Upper bound on a body; a Content-Length above it is refused. */
const MAX_BODY = 1 << 20;

/** Lower-case header key with compact forms expanded, for comparisons. */
export function headerKey(name: string): string {
  return (name.length === 1 ? COMPACT[name.toLowerCase()] ?? name : name).toLowerCase();
}

/**
 * Parses one message. Over UDP (the default) a missing Content-Length means
 * the body is the rest of the datagram (RFC 3261 §18.3); bytes beyond a
 * Content-Length are discarded; a Content-Length larger than what arrived is
 * an error. Checks the mandatory headers of §8.1.1 (Via, From, To, Call-ID, CSeq).
 */
export function parseMessage(data: Uint8Array): SipMessage {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let start = 0;
  // §7.5: CRLFs before the start line are ignored.
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start >= buf.length) throw new ParseError('empty SIP message');
  let headEnd = buf.indexOf('\r\n\r\n', start, 'latin1');
  let sepLen = 4;
  const lfEnd = buf.indexOf('\n\n', start, 'latin1');
  if (lfEnd >= 0 && (headEnd < 0 || lfEnd < headEnd)) {
    headEnd = lfEnd;
    sepLen = 2;
  }
  if (headEnd < 0) throw new ParseError('no empty line after the headers');
  const head = buf.toString('utf8', start, headEnd);
  if (head.includes('\0')) throw new ParseError('NUL in SIP headers');
  const lines = head.split(/\r?\n/);
  const startLine = lines[0] ?? '';
  const headers: SipHeader[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // §7.3.1 line folding: continuation of the previous header value.
      const prev = headers[headers.length - 1];
      if (!prev) throw new ParseError('folded line before any header');
      prev.value = `${prev.value} ${line.trim()}`.trim();
      continue;
    }
    if (line.includes('\r')) throw new ParseError('bare CR in a header line');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ParseError(`bad header line "${line.slice(0, 80)}"`);
    const rawName = line.slice(0, colon).trim();
    if (!TOKEN_RE.test(rawName)) throw new ParseError(`bad header name "${rawName.slice(0, 80)}"`);
    const name = rawName.length === 1 ? COMPACT[rawName.toLowerCase()] ?? rawName : rawName;
    headers.push({ name, value: line.slice(colon + 1).trim() });
  }
  const bodyStart = headEnd + sepLen;
  const available = buf.length - bodyStart;
  let length = available;
  const lengths = headers.filter((h) => headerKey(h.name) === 'content-length');
  if (lengths.length > 0) {
    const values = new Set(lengths.map((h) => h.value));
    if (values.size > 1) throw new ParseError('conflicting Content-Length headers');
    const v = lengths[0]?.value ?? '';
    if (!/^\d{1,9}$/.test(v)) throw new ParseError(`bad Content-Length "${v.slice(0, 40)}"`);
    length = Number(v);
    if (length > MAX_BODY) throw new ParseError(`Content-Length ${length} too large`);
    if (length > available) throw new ParseError(`Content-Length ${length} but ${available} bytes of body`);
  }
  const body = Buffer.from(buf.subarray(bodyStart, bodyStart + length));
  const msg = parseStartLine(startLine, headers, body);
  validate(msg);
  return msg;
}

function parseStartLine(line: string, headers: SipHeader[], body: Buffer): SipMessage {
  if (/^SIP\/2\.0 /i.test(line)) {
    const m = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/i.exec(line);
    if (!m) throw new ParseError(`bad status line "${line.slice(0, 80)}"`);
    return { type: 'response', status: Number(m[1]), reason: m[2] ?? '', headers, body };
  }
  const m = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/i.exec(line);
  if (!m) throw new ParseError(`bad start line "${line.slice(0, 80)}"`);
  return { type: 'request', method: m[1] ?? '', uri: m[2] ?? '', headers, body };
}

function validate(msg: SipMessage): void {
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    if (getHeader(msg, name) === undefined) throw new ParseError(`missing ${name} header`);
  }
  getTopVia(msg);
  getFrom(msg);
  getTo(msg);
  const cseq = getCSeq(msg);
  if (msg.type === 'request' && cseq.method !== msg.method) throw new ParseError('CSeq method differs from the request method');
}

/** Serializes with CRLF line ends and a Content-Length that matches the body. */
export function serializeMessage(msg: SipMessage): Buffer {
  const body = msg.body;
  let head = msg.type === 'request' ? `${msg.method} ${msg.uri} SIP/2.0\r\n` : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  let sawLength = false;
  for (const h of msg.headers) {
    if (/[\r\n]/.test(h.value) || /[\r\n:]/.test(h.name)) throw new ParseError(`header ${h.name} cannot be encoded`);
    if (headerKey(h.name) === 'content-length') {
      if (!sawLength) head += `Content-Length: ${body.length}\r\n`;
      sawLength = true;
    } else head += h.value === '' ? `${h.name}:\r\n` : `${h.name}: ${h.value}\r\n`;
  }
  if (!sawLength) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body.length === 0 ? Buffer.from(head, 'utf8') : Buffer.concat([Buffer.from(head, 'utf8'), body]);
}

/** Every value of a header, comma lists split for list headers (RFC 3261 §7.3.1). */
export function getHeaders(msg: SipMessage, name: string): string[] {
  const key = headerKey(name);
  const out: string[] = [];
  const split = LIST_HEADERS.has(key);
  for (const h of msg.headers) {
    if (headerKey(h.name) !== key) continue;
    if (split) for (const v of splitOutside(h.value, ',')) {
      if (v !== '') out.push(v);
    }
    else out.push(h.value);
  }
  return out;
}

/** The first value of a header, or undefined. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  return getHeaders(msg, name)[0];
}

/** Replaces every line of `name` with one line holding `value`. */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const key = headerKey(name);
  const i = msg.headers.findIndex((h) => headerKey(h.name) === key);
  removeHeader(msg, name);
  msg.headers.splice(i < 0 ? msg.headers.length : i, 0, { name, value });
}

/** Removes every line of `name`. */
export function removeHeader(msg: SipMessage, name: string): void {
  const key = headerKey(name);
  msg.headers = msg.headers.filter((h) => headerKey(h.name) !== key);
}

/** All Via values, top first. */
export function getVias(msg: SipMessage): Via[] {
  return getHeaders(msg, 'Via').map(parseVia);
}

/** The top Via. */
export function getTopVia(msg: SipMessage): Via {
  const v = getHeader(msg, 'Via');
  if (v === undefined) throw new ParseError('missing Via header');
  return parseVia(v);
}

export function getCSeq(msg: SipMessage): CSeq {
  const v = getHeader(msg, 'CSeq');
  if (v === undefined) throw new ParseError('missing CSeq header');
  return parseCSeq(v);
}

export function getCallId(msg: SipMessage): string {
  const v = getHeader(msg, 'Call-ID');
  if (v === undefined || v === '') throw new ParseError('missing Call-ID header');
  return v;
}

export function getFrom(msg: SipMessage): NameAddr {
  const v = getHeader(msg, 'From');
  if (v === undefined) throw new ParseError('missing From header');
  return parseNameAddr(v);
}

export function getTo(msg: SipMessage): NameAddr {
  const v = getHeader(msg, 'To');
  if (v === undefined) throw new ParseError('missing To header');
  return parseNameAddr(v);
}

/** The `tag` parameter of a From/To value, when present. */
export function tagOf(n: NameAddr): string | undefined {
  return n.params.get('tag') ?? undefined;
}

/** The body as UTF-8 text. */
export function bodyText(msg: SipMessage): string {
  return msg.body.toString('utf8');
}

/** Lower-cased media type of the body, without parameters ('' when absent). */
export function contentType(msg: SipMessage): string {
  const v = getHeader(msg, 'Content-Type');
  return v === undefined ? '' : (v.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Builds a response to `req` (RFC 3261 §8.2.6.2): Via, From, Call-ID and CSeq
 * copied, To copied and given `toTag` when it has none.
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason: string,
  opts: { toTag?: string; headers?: readonly SipHeader[]; body?: Buffer | string; contentType?: string } = {},
): SipResponse {
  const headers: SipHeader[] = [];
  for (const h of req.headers) {
    const key = headerKey(h.name);
    if (key === 'via' || key === 'from' || key === 'call-id' || key === 'cseq') headers.push({ name: h.name, value: h.value });
    else if (key === 'to') {
      const hasTag = parseNameAddr(h.value).params.has('tag');
      const value = hasTag || opts.toTag === undefined || status === 100 ? h.value : `${h.value};tag=${opts.toTag}`;
      headers.push({ name: h.name, value });
    }
  }
  if (opts.headers) headers.push(...opts.headers);
  const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body, 'utf8');
  if (body.length > 0 && opts.contentType) headers.push({ name: 'Content-Type', value: opts.contentType });
  return { type: 'response', status, reason, headers, body };
}
