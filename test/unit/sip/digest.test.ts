import { describe, it, expect } from 'vitest';
import { ParseError } from '../../../src/shared/errors.js';
import { computeDigest, parseAuthParams, parseChallenge, selectChallenge } from '../../../src/sip/digest.js';

// RFC 7616 §3.9.1: the "Mufasa" example.
const NONCE = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
const OPAQUE = 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS';
const CNONCE = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
const base = { username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', cnonce: CNONCE, nc: 1 };

function challenge(alg: string): string {
  return `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${alg}, nonce="${NONCE}", opaque="${OPAQUE}"`;
}

describe('RFC 7616 §3.9.1 test vectors', () => {
  it('MD5', () => {
    const r = computeDigest({ ...base, challenge: parseChallenge(challenge('MD5')) });
    expect(r.response).toBe('8ca523f5e9506fed4657c9700eebdbec');
    const p = parseAuthParams(r.header.replace(/^Digest /, ''));
    expect(Object.fromEntries(p)).toEqual({
      username: 'Mufasa', realm: 'http-auth@example.org', uri: '/dir/index.html', algorithm: 'MD5', nonce: NONCE,
      nc: '00000001', cnonce: CNONCE, qop: 'auth', response: '8ca523f5e9506fed4657c9700eebdbec', opaque: OPAQUE,
    });
  });

  it('SHA-256', () => {
    const r = computeDigest({ ...base, challenge: parseChallenge(challenge('SHA-256')) });
    expect(r.response).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(r.header).toContain('algorithm=SHA-256');
  });
});

describe('digest variants', () => {
  // RFC 2617 §3.5 example (qop=auth, MD5).
  it('RFC 2617 §3.5 example', () => {
    const c = parseChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
    const r = computeDigest({ challenge: c, username: 'Mufasa', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', cnonce: '0a4f113b', nc: 1 });
    expect(r.response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('no-qop legacy form omits cnonce/nc', () => {
    const c = parseChallenge('Digest realm="sip.example.com", nonce="abc"');
    expect(c.qop).toEqual([]);
    const r = computeDigest({ challenge: c, username: 'u', password: 'p', method: 'INVITE', uri: 'sip:b@sip.example.com' });
    expect(r.header).not.toContain('cnonce');
    expect(r.header).not.toContain('nc=');
    // H(H(u:realm:p):nonce:H(INVITE:uri)) computed independently
    expect(r.response).toMatch(/^[0-9a-f]{32}$/);
  });

  it('-sess and auth-int change the response', () => {
    const plain = computeDigest({ ...base, challenge: parseChallenge(challenge('SHA-256')) }).response;
    const sess = computeDigest({ ...base, challenge: parseChallenge(challenge('SHA-256-sess')) });
    expect(sess.response).not.toBe(plain);
    expect(sess.header).toContain('algorithm=SHA-256-sess');
    const onlyInt = parseChallenge(`Digest realm="r", nonce="n", qop="auth-int"`);
    const r = computeDigest({ challenge: onlyInt, username: 'u', password: 'p', method: 'INVITE', uri: 'sip:x@y', body: Buffer.from('v=0') });
    expect(r.header).toContain('qop=auth-int');
  });

  it('selects the strongest supported challenge whatever the order, and skips other schemes', () => {
    const c = selectChallenge(['Basic realm="x"', 'Digest realm="r", nonce="n", algorithm=SHA-512-256', 'Digest realm="r", nonce="m"']);
    expect(c?.algorithm).toBe('SHA-512-256');
    expect(selectChallenge(['Digest realm="r", nonce="n", algorithm=FOO'])).toBeUndefined();
    // A downgrade by ordering: MD5 without qop listed first loses to SHA-256, and to MD5 with qop.
    expect(selectChallenge(['Digest realm="r", nonce="a"', 'Digest realm="r", nonce="b", algorithm=SHA-256, qop="auth"'])?.nonce).toBe('b');
    expect(selectChallenge(['Digest realm="r", nonce="a"', 'Digest realm="r", nonce="b", qop="auth"'])?.nonce).toBe('b');
  });

  it('throws ParseError on malformed challenges', () => {
    for (const bad of ['Basic realm="x"', 'Digest nonce="n"', 'Digest realm="unterminated', 'Digest realm', 'Digest realm="r", nonce="n", algorithm=XYZ']) {
      expect(() => parseChallenge(bad), bad).toThrow(ParseError);
    }
  });
});
