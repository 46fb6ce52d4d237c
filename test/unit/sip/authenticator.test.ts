import { describe, it, expect } from 'vitest';
import { Authenticator, MAX_CHALLENGES } from '../../../src/sip/auth.js';
import type { SipResponse } from '../../../src/sip/message.js';

const challenge = (status: 401 | 407, realm: string, nonce = 'n1', extra = ''): SipResponse => ({
  type: 'response', status, reason: 'Unauthorized', body: Buffer.alloc(0),
  headers: [{ name: status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate', value: `Digest realm="${realm}", nonce="${nonce}", qop="auth"${extra}` }],
});

describe('Authenticator', () => {
  it('answers only the realms the credentials are for', () => {
    const a = new Authenticator({ username: 'u', password: 'p', realms: ['pbx.example.com'] });
    expect(a.accept(challenge(401, 'evil.example'))).toBe(false);
    expect(a.refusal).toMatch(/realm "evil.example" is not one these credentials are for/);
    expect(a.headers('INVITE', 'sip:x@pbx.example.com')).toEqual([]);
    expect(a.accept(challenge(401, 'PBX.example.com'))).toBe(true);
    expect(a.headers('INVITE', 'sip:x@pbx.example.com')).toHaveLength(1);
    const any = new Authenticator({ username: 'u', password: 'p', realms: ['*'] });
    expect(any.accept(challenge(401, 'asterisk'))).toBe(true);
  });

  it('a server that keeps changing the realm gets at most MAX_CHALLENGES answers', () => {
    const a = new Authenticator({ username: 'u', password: 'p' });
    const answered = Array.from({ length: 10 }, (_, i) => a.accept(challenge(i % 2 ? 401 : 407, `realm-${i}`))).filter(Boolean).length;
    expect(answered).toBe(MAX_CHALLENGES);
    expect(a.refusal).toMatch(/more than 2 challenges/);
  });

  it('a second challenge for an answered realm is a refusal, unless the nonce only went stale (once)', () => {
    const a = new Authenticator({ username: 'u', password: 'p' });
    expect(a.accept(challenge(401, 'r', 'n1'))).toBe(true);
    expect(a.accept(challenge(401, 'r', 'n2'))).toBe(false);
    const b = new Authenticator({ username: 'u', password: 'p' });
    expect(b.accept(challenge(401, 'r', 'n1'))).toBe(true);
    expect(b.accept(challenge(401, 'r', 'n2', ', stale=true'))).toBe(true);
    expect(b.accept(challenge(401, 'r', 'n3', ', stale=true'))).toBe(false);
  });
});
