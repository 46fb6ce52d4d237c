import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { StreamFramer } from '../../../src/sip/stream-framer.js';
import { ParseError } from '../../../src/shared/errors.js';

const msg = (body: string): string => `OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('SIP stream framing (RFC 3261 §18.3)', () => {
  it('splits back-to-back messages by Content-Length (compact form too), across any chunking', () => {
    const stream = Buffer.from(`\r\n\r\n${msg('hello')}${msg('')}${msg('x'.repeat(300))}`);
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 8 }), (cuts) => {
      const f = new StreamFramer();
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const frames = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        frames.push(...f.push(stream.subarray(prev, p)));
        prev = p;
      }
      expect(frames.map((x) => x.kind)).toEqual(['ping', 'message', 'message', 'message']);
      const bodies = frames.filter((x) => x.kind === 'message').map((x) => (x.kind === 'message' ? x.data.toString().split('\r\n\r\n')[1] : ''));
      expect(bodies).toEqual(['hello', '', 'x'.repeat(300)]);
      expect(f.pending).toBe(0);
    }));
  });
  it('refuses a stream it cannot frame: no Content-Length, a bad one, oversized head or body', () => {
    expect(() => new StreamFramer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n'))).toThrow(ParseError);
    expect(() => new StreamFramer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n'))).toThrow(ParseError);
    expect(() => new StreamFramer().push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nX: ${'a'.repeat(20000)}`))).toThrow(ParseError);
    expect(() => new StreamFramer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 999999999\r\n\r\n'))).toThrow(ParseError);
  });
  it('never throws anything but ParseError on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      try {
        new StreamFramer().push(Buffer.from(bytes));
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
      }
    }));
  });
});
