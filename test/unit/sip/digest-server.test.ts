import { describe, it, expect, vi, afterEach } from 'vitest';
import { DigestServer } from '../../../src/sip/digest-server.js';
import { computeDigest, parseChallenge } from '../../../src/sip/digest.js';
import { parseMessage, type SipRequest } from '../../../src/sip/message.js';

function invite(authorization?: string): SipRequest {
  const text = 'INVITE sip:room@gw.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:mcu@a>;tag=1\r\n'
    + `To: <sip:room@gw.example>\r\nCall-ID: c1\r\nCSeq: 2 INVITE\r\n${authorization ? `Authorization: ${authorization}\r\n` : ''}Content-Length: 0\r\n\r\n`;
  return parseMessage(Buffer.from(text)) as SipRequest;
}

function answer(server: DigestServer, user: string, password: string, edit: (c: ReturnType<typeof parseChallenge>) => void = () => undefined): string {
  const c = parseChallenge(server.challenge().value);
  edit(c);
  return computeDigest({ challenge: c, username: user, password, method: 'INVITE', uri: 'sip:room@gw.example' }).header;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('DigestServer (the caller of an incoming capture authenticates)', () => {
  it('challenges with MD5 and qop=auth in its realm, and takes the right answer', () => {
    const s = new DigestServer('gw.example');
    expect(parseChallenge(s.challenge().value)).toMatchObject({ realm: 'gw.example', algorithm: 'MD5', qop: ['auth'], stale: false });
    expect(s.check(invite(), 'mcu', 'pw')).toBe('missing');
    expect(s.check(invite(answer(s, 'mcu', 'pw')), 'mcu', 'pw')).toBe('ok');
  });

  it('refuses a wrong password, user, realm, a forged nonce, another server\'s nonce and garbage', () => {
    const s = new DigestServer('gw.example');
    expect(s.check(invite(answer(s, 'mcu', 'nope')), 'mcu', 'pw')).toBe('wrong');
    expect(s.check(invite(answer(s, 'other', 'pw')), 'mcu', 'pw')).toBe('wrong');
    expect(s.check(invite(answer(s, 'mcu', 'pw', (c) => { c.realm = 'evil'; })), 'mcu', 'pw')).toBe('wrong');
    expect(s.check(invite(answer(s, 'mcu', 'pw', (c) => { c.nonce = `${Date.now().toString(36)}.forged`; })), 'mcu', 'pw')).toBe('wrong');
    expect(s.check(invite(answer(new DigestServer('gw.example'), 'mcu', 'pw')), 'mcu', 'pw')).toBe('wrong');
    for (const junk of ['Basic bWN1OnB3', 'Digest', 'Digest ===', 'Digest nonce="a.b"']) expect(s.check(invite(junk), 'mcu', 'pw')).toBe('wrong');
  });

  it('a right answer on a nonce older than five minutes is stale (a new challenge, not a refusal)', () => {
    vi.useFakeTimers();
    const s = new DigestServer('gw.example');
    const auth = answer(s, 'mcu', 'pw');
    vi.advanceTimersByTime(301_000);
    expect(s.check(invite(auth), 'mcu', 'pw')).toBe('stale');
    expect(s.challenge(true).value).toMatch(/stale=true/);
  });
});
