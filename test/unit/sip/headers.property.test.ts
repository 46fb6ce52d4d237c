/**
 * Property tests of the SIP header-value parsers the message parser leaves
 * to its callers: Via and CSeq (RFC 3261 §20.42, §20.16), parameter lists
 * (§7.3.1), URIs and name-addr (§19.1, §20.10), Digest challenges (RFC 7616,
 * RFC 7235 §2.1) and the accessors that apply them to a parsed message. Any
 * text gives a value or ParseError — never another exception.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { parseCSeq, parseValueWithParams, parseVia, splitOutside, unquote } from '../../../src/sip/headers.js';
import { parseNameAddr, parseUri, formatUri } from '../../../src/sip/uri.js';
import { parseAuthParams, parseChallenge, selectChallenge } from '../../../src/sip/digest.js';
import { Authenticator } from '../../../src/sip/auth.js';
import {
  contentType, getCSeq, getCallId, getFrom, getHeaders, getTo, getTopVia, getVias, parseMessage, type SipResponse,
} from '../../../src/sip/message.js';

const RUNS = 2000;

function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

/** Text over the characters these grammars care about (delimiters, quotes, escapes), plus any code unit. */
const sipChar = fc.constantFrom(...'<>"\\;,=:@?&[]%/. \tsipSIP2.0UDPzd9hG4bK0123456789abcdefAF-_+#*~\'()!$'.split(''));
const sipText = fc.oneof(
  fc.string({ unit: sipChar, maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

/** Valid samples, then edited: a character replaced, inserted or the text cut. */
function mutatedFrom(samples: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.oneof(sipChar, fc.constant('')), fc.boolean()), { maxLength: 4 }), fc.option(fc.nat()))
    .map(([s, edits, cut]) => {
      let t = s;
      for (const [i, c, insert] of edits) {
        const at = i % (t.length + 1);
        t = t.slice(0, at) + c + t.slice(insert ? at : at + 1);
      }
      return cut === null ? t : t.slice(0, cut % (t.length + 1));
    });
}

const VIAS = ['SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK776asdhds', 'SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKx;received=1.2.3.4', 'SIP / 2.0 / TCP host.example.com'];
const CSEQS = ['314159 INVITE', '1 BYE', '2147483647 ACK'];
const URIS = ['sip:alice:secret@example.com:5060;transport=tcp;lr?subject=hi&x=%41', 'sips:[2001:db8::1]:5061', 'tel:+1-555-0100;phone-context=example.com', 'sip:10001@10.0.0.2'];
const NAME_ADDRS = ['"Capture \\"Bot\\"" <sip:10009@example.com>;tag=1928301774', 'Bob <sips:bob@b.example.com;lr>;expires=60', 'sip:carol@c.example.com;tag=x', '<tel:+15550100>'];
const CHALLENGES = [
  'Digest realm="asterisk", nonce="1a2b3c", algorithm=MD5, qop="auth,auth-int", opaque="o"',
  'Digest realm="example.com", nonce="abc, def", algorithm=SHA-256-sess, stale=TRUE',
  'Basic realm="x"',
];

describe('SIP header parsers properties', () => {
  it.each([
    ['parseVia', parseVia, VIAS],
    ['parseCSeq', parseCSeq, CSEQS],
    ['parseValueWithParams', parseValueWithParams, VIAS],
    ['splitOutside', (s: string) => splitOutside(s, ','), NAME_ADDRS],
    ['unquote', unquote, NAME_ADDRS],
    ['parseUri', parseUri, URIS],
    ['parseNameAddr', parseNameAddr, NAME_ADDRS],
    ['parseAuthParams', parseAuthParams, CHALLENGES.map((c) => c.replace(/^\w+ /, ''))],
    ['parseChallenge', parseChallenge, CHALLENGES],
  ] as const)('%s: random and mutated text give a value or ParseError', (_name, parse, samples) => {
    for (const s of samples.slice(0, -1)) expect(parsesOrParseError(() => (parse as (x: string) => unknown)(s))).not.toBeInstanceOf(ParseError);
    fc.assert(fc.property(fc.oneof(sipText, mutatedFrom(samples)), (s) => {
      parsesOrParseError(() => (parse as (x: string) => unknown)(s));
    }), { numRuns: RUNS });
  });

  it('parseUri: what parses formats and parses again to the same URI', () => {
    fc.assert(fc.property(fc.oneof(sipText, mutatedFrom(URIS)), (s) => {
      const u = parsesOrParseError(() => parseUri(s));
      if (u instanceof ParseError) return;
      expect(parseUri(formatUri(u))).toEqual(u);
    }), { numRuns: RUNS });
  });

  it('selectChallenge and Authenticator.accept on a 401 with hostile WWW-Authenticate values never throw', () => {
    fc.assert(fc.property(fc.array(fc.oneof(sipText, mutatedFrom(CHALLENGES)), { maxLength: 4 }), (values) => {
      selectChallenge(values);
      const raw = `SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n${values
        .filter((v) => !/[\r\n\0]/.test(v)).map((v) => `WWW-Authenticate: ${v}\r\n`).join('')}Content-Length: 0\r\n\r\n`;
      const res = parsesOrParseError(() => parseMessage(Buffer.from(raw, 'utf8')));
      if (res instanceof ParseError) return;
      const auth = new Authenticator({ username: 'u', password: 'p' });
      if (auth.accept(res as SipResponse)) expect(auth.headers('INVITE', 'sip:c@d')).toHaveLength(1);
    }), { numRuns: RUNS });
  });
});

describe('message accessors on damaged messages', () => {
  const BASE = Buffer.from([
    'INVITE sip:10001@10.0.0.2:5070 SIP/2.0',
    `Via: ${VIAS[0]}, ${VIAS[1]}`,
    `From: ${NAME_ADDRS[0]}`,
    `To: ${NAME_ADDRS[1]}`,
    'Call-ID: Xg2tILcX89tTjaji',
    `CSeq: ${CSEQS[0]}`,
    'Contact: <sip:10009@10.0.0.1:5060>;+sip.instance="<urn:uuid:1>"',
    'Content-Type: application/sdp; charset=utf-8',
    'Content-Length: 0',
    '', '',
  ].join('\r\n'));

  it('getVias, getTopVia, getCSeq, getCallId, getFrom, getTo, getHeaders, contentType: a value or ParseError', () => {
    const accessors = [getVias, getTopVia, getCSeq, getCallId, getFrom, getTo, contentType, (m: Parameters<typeof getVias>[0]) => getHeaders(m, 'Contact')];
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(BASE.length - 1), fc.constantFrom(...Buffer.from('<>";,=:@ \\%[]0aZ\t'))), { minLength: 1, maxLength: 6 }), (edits) => {
      const b = Buffer.from(BASE);
      for (const [i, v] of edits) b[i] = v;
      const msg = parsesOrParseError(() => parseMessage(b));
      if (msg instanceof ParseError) return;
      for (const get of accessors) parsesOrParseError(() => get(msg));
    }), { numRuns: RUNS });
  });
});
