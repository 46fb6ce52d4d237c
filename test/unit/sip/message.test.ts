import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import {
  bodyText, createResponse, getCallId, getCSeq, getFrom, getHeader, getHeaders, getTo, getVias, parseMessage,
  serializeMessage, tagOf, type SipRequest,
} from '../../../src/sip/message.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n';

const INVITE = crlf(`INVITE sip:10001@10.0.0.2:5070;x-room=7 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: <sip:10001@10.0.0.2>
From: "Capture Bot" <sip:10009@example.com>;tag=1928301774
Call-ID: Xg2tILcX89tTjaji
CSeq: 314159 INVITE
Contact: <sip:10009@10.0.0.1:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"
Allow: INVITE, ACK, CANCEL, BYE
Content-Type: application/sdp
Content-Length: ${Buffer.byteLength(SDP)}

`);

describe('parseMessage: real messages', () => {
  it('parses an INVITE with SDP', () => {
    const msg = parseMessage(Buffer.concat([INVITE, Buffer.from(SDP)]));
    expect(msg.type).toBe('request');
    const req = msg as SipRequest;
    expect(req.method).toBe('INVITE');
    expect(req.uri).toBe('sip:10001@10.0.0.2:5070;x-room=7');
    expect(getCallId(req)).toBe('Xg2tILcX89tTjaji');
    expect(getCSeq(req)).toEqual({ seq: 314159, method: 'INVITE' });
    const from = getFrom(req);
    expect(from.displayName).toBe('Capture Bot');
    expect(from.uri.user).toBe('10009');
    expect(tagOf(from)).toBe('1928301774');
    expect(tagOf(getTo(req))).toBeUndefined();
    expect(getHeaders(req, 'allow')).toEqual(['INVITE', 'ACK', 'CANCEL', 'BYE']);
    expect(getVias(req)[0]?.params.get('branch')).toBe('z9hG4bK776asdhds');
    expect(getVias(req)[0]?.params.get('rport')).toBeNull();
    expect(bodyText(req)).toBe(SDP);
  });

  it('parses a 200 OK with SDP, Record-Route and a Contact', () => {
    const text = `SIP/2.0 200 OK
Via: SIP/2.0/UDP 10.0.0.1:5060;rport=5060;received=10.0.0.1;branch=z9hG4bK776asdhds
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>
To: <sip:10001@10.0.0.2>;tag=a6c85cf
From: "Capture Bot" <sip:10009@example.com>;tag=1928301774
Call-ID: Xg2tILcX89tTjaji
CSeq: 314159 INVITE
Contact: <sip:10001@10.0.0.2:5070>
Content-Type: application/sdp
Content-Length: ${Buffer.byteLength(SDP)}

`;
    const res = parseMessage(Buffer.concat([crlf(text), Buffer.from(SDP)]));
    expect(res.type).toBe('response');
    if (res.type !== 'response') return;
    expect(res.status).toBe(200);
    expect(res.reason).toBe('OK');
    expect(getHeaders(res, 'Record-Route')).toEqual(['<sip:p2.example.com;lr>', '<sip:p1.example.com;lr>']);
    expect(tagOf(getTo(res))).toBe('a6c85cf');
    expect(bodyText(res)).toBe(SDP);
  });

  it('parses a 401 with WWW-Authenticate (commas not split)', () => {
    const res = parseMessage(crlf(`SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnashds7
From: <sip:10009@example.com>;tag=1
To: <sip:10001@example.com>;tag=2
Call-ID: abc
CSeq: 1 INVITE
WWW-Authenticate: Digest realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", qop="auth,auth-int", algorithm=MD5
WWW-Authenticate: Digest realm="example.com", nonce="xyz", algorithm=SHA-256
Content-Length: 0

`));
    expect(getHeaders(res, 'WWW-Authenticate')).toHaveLength(2);
    expect(getHeader(res, 'www-authenticate')).toContain('qop="auth,auth-int"');
  });

  it('expands compact headers and multiple Via lines and values', () => {
    const res = parseMessage(crlf(`SIP/2.0 180 Ringing
v: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2
v: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK3
f: <sip:a@b>;tag=x
t: <sip:c@d>;tag=y
i: call-1
CSeq: 2 INVITE
m: <sip:c@10.0.0.9>
k: timer
c: application/sdp
l: 0

`));
    expect(getVias(res).map((v) => [v.transport, v.host, v.port])).toEqual([
      ['UDP', 'p1.example.com', undefined],
      ['UDP', '10.0.0.1', 5060],
      ['TCP', '[2001:db8::1]', 5061],
    ]);
    expect(getCallId(res)).toBe('call-1');
    expect(getHeader(res, 'Contact')).toBe('<sip:c@10.0.0.9>');
    expect(getHeader(res, 'Supported')).toBe('timer');
    expect(res.headers.some((h) => h.name === 'Call-ID')).toBe(true);
  });

  it('takes the rest of the datagram as body without Content-Length, and truncates beyond it', () => {
    const head = `MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n`;
    expect(bodyText(parseMessage(Buffer.from(`${head}\r\nhello`)))).toBe('hello');
    expect(bodyText(parseMessage(Buffer.from(`${head}Content-Length: 3\r\n\r\nhello`)))).toBe('hel');
  });

  it('tolerates leading CRLFs and folded header lines', () => {
    const msg = parseMessage(Buffer.from('\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;\r\n branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n'));
    expect(getVias(msg)[0]?.params.get('branch')).toBe('z9hG4bK1');
  });
});

describe('parseMessage: malformed input throws ParseError', () => {
  const good = 'BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\n';
  const cases: Record<string, string> = {
    'empty': '',
    'only CRLF': '\r\n\r\n',
    'no blank line': good,
    'bad start line': good.replace('BYE sip:a@b SIP/2.0', 'BYE sip:a@b HTTP/1.1') + '\r\n',
    'bad status': 'SIP/2.0 99 Weird\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n',
    'header without colon': good + 'Bogus\r\n\r\n',
    'header name with space': good + 'Bad Name: x\r\n\r\n',
    'missing Call-ID': good.replace('Call-ID: c\r\n', '') + '\r\n',
    'missing Via': good.replace(/Via: [^\r]*\r\n/, '') + '\r\n',
    'bad Via': good.replace('SIP/2.0/UDP h', 'HTTP h') + '\r\n',
    'bad CSeq': good.replace('CSeq: 2 BYE', 'CSeq: two BYE') + '\r\n',
    'CSeq method mismatch': good.replace('CSeq: 2 BYE', 'CSeq: 2 INVITE') + '\r\n',
    'bad From': good.replace('From: <sip:x@y>;tag=1', 'From: <sip:x@y;tag=1') + '\r\n',
    'Content-Length not a number': good + 'Content-Length: ten\r\n\r\n',
    'Content-Length negative': good + 'Content-Length: -1\r\n\r\n',
    'Content-Length larger than the body': good + 'Content-Length: 10\r\n\r\nabc',
    'conflicting Content-Length': good + 'Content-Length: 1\r\nl: 2\r\n\r\nab',
    'folded line first': 'BYE sip:a@b SIP/2.0\r\n continued\r\n\r\n',
  };
  for (const [name, text] of Object.entries(cases)) {
    it(name, () => {
      expect(() => parseMessage(Buffer.from(text))).toThrow(ParseError);
    });
  }
});

describe('serializeMessage', () => {
  it('writes CRLF lines and the actual Content-Length', () => {
    const req = parseMessage(Buffer.concat([INVITE, Buffer.from(SDP)])) as SipRequest;
    req.body = Buffer.from('v=0\r\n');
    const out = serializeMessage(req).toString();
    expect(out.startsWith('INVITE sip:10001@10.0.0.2:5070;x-room=7 SIP/2.0\r\n')).toBe(true);
    expect(out).toContain('\r\nContent-Length: 5\r\n\r\nv=0\r\n');
    expect(out.split('\r\n').some((l) => l.includes('\n'))).toBe(false);
  });

  it('builds responses that copy Via/From/Call-ID/CSeq and tag To', () => {
    const req = parseMessage(Buffer.concat([INVITE, Buffer.from(SDP)])) as SipRequest;
    const res = createResponse(req, 486, 'Busy Here', { toTag: 'zz' });
    const back = parseMessage(serializeMessage(res));
    expect(back.type === 'response' && back.status).toBe(486);
    expect(tagOf(getTo(back))).toBe('zz');
    expect(getHeader(back, 'Via')).toBe(getHeader(req, 'Via'));
    expect(getCSeq(back)).toEqual(getCSeq(req));
  });

  it('refuses header values with line breaks', () => {
    const req = parseMessage(Buffer.concat([INVITE, Buffer.from(SDP)])) as SipRequest;
    req.headers.push({ name: 'Subject', value: 'a\r\nInjected: yes' });
    expect(() => serializeMessage(req)).toThrow(ParseError);
  });
});

describe('parser properties', () => {
  it('arbitrary bytes throw nothing but ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      try {
        parseMessage(bytes);
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
      }
    }), { numRuns: 3000 });
  });

  it('mutations of a valid message throw nothing but ParseError', () => {
    const base = Buffer.concat([INVITE, Buffer.from(SDP)]);
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (edits) => {
      const b = Buffer.from(base);
      for (const [i, v] of edits) b[i] = v;
      try {
        parseMessage(b);
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
      }
    }), { numRuns: 3000 });
  });

  const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9\-.!%*_+~]{0,11}$/);
  const value = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/);
  const reserved = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'content-length', 'i', 'f', 't', 'v', 'm', 'l', 'c', 'k', 's', 'e', 'r', 'o', 'x', 'u', 'b']);
  const extra = fc.array(fc.tuple(token, value), { maxLength: 6 }).map((hs) => hs.filter(([n]) => !reserved.has(n.toLowerCase())));

  it('serialize ∘ parse is the identity on generated messages', () => {
    fc.assert(fc.property(
      fc.boolean(), token, fc.integer({ min: 100, max: 699 }), token, fc.nat(0x7fffffff), extra, fc.uint8Array({ maxLength: 200 }),
      (isRequest, method, status, tag, seq, extraHeaders, body) => {
        const m = method.toUpperCase();
        const headers = [
          { name: 'Via', value: `SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK${tag}` },
          { name: 'From', value: `<sip:alice@example.com>;tag=${tag}` },
          { name: 'To', value: '"Bob" <sip:bob@example.com>' },
          { name: 'Call-ID', value: `${tag}@host` },
          { name: 'CSeq', value: `${seq} ${m}` },
          ...extraHeaders.map(([name, v]) => ({ name, value: v })),
        ];
        const msg = isRequest
          ? { type: 'request' as const, method: m, uri: 'sip:bob@example.com;transport=udp', headers, body: Buffer.from(body) }
          : { type: 'response' as const, status, reason: 'Some Reason', headers, body: Buffer.from(body) };
        const bytes = serializeMessage(msg);
        const parsed = parseMessage(bytes);
        expect(serializeMessage(parsed).equals(bytes)).toBe(true);
        expect(parsed.body.equals(Buffer.from(body))).toBe(true);
        expect(parsed.headers.slice(0, -1)).toEqual(headers);
        expect(parsed.headers.at(-1)).toEqual({ name: 'Content-Length', value: String(body.length) });
      },
    ), { numRuns: 500 });
  });
});
