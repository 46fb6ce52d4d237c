import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { formatNameAddr, formatUri, isValidUser, parseNameAddr, parseUri, uriParam } from '../../../src/sip/uri.js';

describe('parseUri / formatUri', () => {
  it('parses a full SIP URI', () => {
    const u = parseUri('sip:10001@127.0.0.1:5070;transport=udp;lr;X-Room=7?Subject=hi&Priority=urgent');
    expect(u).toMatchObject({ scheme: 'sip', user: '10001', host: '127.0.0.1', port: 5070, password: undefined });
    expect([...u.params]).toEqual([['transport', 'udp'], ['lr', null], ['X-Room', '7']]);
    expect(uriParam(u, 'x-room')).toBe('7');
    expect([...u.headers]).toEqual([['Subject', 'hi'], ['Priority', 'urgent']]);
    expect(formatUri(u)).toBe('sip:10001@127.0.0.1:5070;transport=udp;lr;X-Room=7?Subject=hi&Priority=urgent');
  });

  it('parses sips, passwords, IPv6, host-only and tel URIs', () => {
    expect(parseUri('sips:alice:secret@example.com')).toMatchObject({ scheme: 'sips', user: 'alice', password: 'secret', port: undefined });
    expect(parseUri('sip:[2001:db8::1]:5061')).toMatchObject({ host: '[2001:db8::1]', port: 5061, user: undefined });
    expect(parseUri('sip:[::1]').host).toBe('[::1]');
    expect(parseUri('SIP:proxy.example.com').scheme).toBe('sip');
    const tel = parseUri('tel:+1-201-555-0123;phone-context=example.com');
    expect(tel).toMatchObject({ scheme: 'tel', user: '+1-201-555-0123', host: '' });
    expect(formatUri(tel)).toBe('tel:+1-201-555-0123;phone-context=example.com');
    expect(parseUri('sip:%2Bweird%20user@h').user).toBe('%2Bweird%20user');
  });

  it('rejects malformed URIs with ParseError', () => {
    for (const bad of ['', 'http://x', 'sip:', 'sip:user@', 'sip:us er@h', 'sip:<x>@h', 'sip:h:99999', 'sip:h:0', 'sip:h_o_s_t',
      'sip:a@b;=x', 'tel:xyz', 'sip:a@b?=1', 'sip:"x"@h']) {
      expect(() => parseUri(bad), bad).toThrow(ParseError);
    }
  });

  it('validates RFC 3261 user parts', () => {
    expect(isValidUser('10009')).toBe(true);
    expect(isValidUser('+7(495)123-45-67')).toBe(true);
    expect(isValidUser('user name')).toBe(false);
    expect(isValidUser('<10009>')).toBe(false);
    expect(isValidUser('a@b')).toBe(false);
    expect(isValidUser('')).toBe(false);
  });

  it('round-trips generated URIs', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    const user = fc.stringMatching(/^[A-Za-z0-9\-_.!~*'()&=+$,]{1,12}$/);
    const pname = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/);
    fc.assert(fc.property(
      fc.constantFrom('sip', 'sips'), fc.option(user, { nil: undefined }), fc.array(label, { minLength: 1, maxLength: 3 }),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      fc.uniqueArray(fc.tuple(pname, fc.option(label, { nil: null })), { selector: ([k]) => k, maxLength: 4 }),
      (scheme, u, labels, port, params) => {
        const text = `${scheme}:${u === undefined ? '' : `${u}@`}${labels.join('.')}${port === undefined ? '' : `:${port}`}${params.map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('')}`;
        expect(formatUri(parseUri(text))).toBe(text);
      },
    ));
  });

  it('throws only ParseError on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => {
      for (const f of [parseUri, parseNameAddr]) {
        try {
          f(s);
        } catch (err) {
          if (!(err instanceof ParseError)) throw err;
        }
      }
    }), { numRuns: 2000 });
  });
});

describe('parseNameAddr', () => {
  it('parses a quoted display name, URI params and header params', () => {
    const n = parseNameAddr('"Capture \\"Bot\\"" <sip:10009@example.com;transport=udp>;tag=abc;+sip.instance="<urn:uuid:1>"');
    expect(n.displayName).toBe('Capture "Bot"');
    expect(n.uri.user).toBe('10009');
    expect(uriParam(n.uri, 'transport')).toBe('udp');
    expect(n.params.get('tag')).toBe('abc');
    expect(n.params.get('+sip.instance')).toBe('"<urn:uuid:1>"');
    expect(formatNameAddr(n)).toBe('"Capture \\"Bot\\"" <sip:10009@example.com;transport=udp>;tag=abc;+sip.instance="<urn:uuid:1>"');
  });

  it('parses an unquoted display name and a bare addr-spec (params belong to the header)', () => {
    expect(parseNameAddr('Bob <sip:bob@h>').displayName).toBe('Bob');
    const n = parseNameAddr('sip:bob@h;tag=x');
    expect(n.uri.params.size).toBe(0);
    expect(n.params.get('tag')).toBe('x');
    expect(parseNameAddr('<tel:+123>').uri.scheme).toBe('tel');
  });

  it('rejects malformed name-addr', () => {
    for (const bad of ['"unterminated <sip:a@b>', '<sip:a@b', '"x" sip:a@b', '<sip:a@b> junk', 'sip:a b@c']) {
      expect(() => parseNameAddr(bad), bad).toThrow(ParseError);
    }
  });
});
