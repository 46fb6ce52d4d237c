/**
 * Property tests of the RTP packet parser (RFC 3550 §5.1): whatever a
 * datagram holds, parseRtpPacket returns a packet whose payload lies inside
 * the datagram or throws ParseError — never another exception.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { looksLikeRtcp, parseRtpPacket, serializeRtpPacket } from '../../../src/rtp/rtp-packet.js';

const RUNS = 3000;

/** Runs `f`; a ParseError is an accepted outcome, any other exception fails the property. */
function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

/** A valid packet with CSRCs, a header extension and padding (RFC 3550 §5.1, §5.3.1). */
function fullPacket(csrcs: number, extWords: number, pad: number, payload: Uint8Array): Buffer {
  const head = serializeRtpPacket({ payloadType: 96, marker: true, seq: 7, timestamp: 9000, ssrc: 0x11223344 }, Buffer.alloc(0));
  head[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (extWords >= 0 ? 0x10 : 0) | csrcs;
  const ext = extWords >= 0 ? Buffer.alloc(4 + extWords * 4, 0xab) : Buffer.alloc(0);
  if (extWords >= 0) ext.writeUInt16BE(extWords, 2);
  const padding = Buffer.alloc(pad);
  if (pad > 0) padding[pad - 1] = pad;
  return Buffer.concat([head, Buffer.alloc(csrcs * 4, 0xcc), ext, Buffer.from(payload), padding]);
}

const validPacket = fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: -1, max: 4 }), fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 64 }))
  .map(([c, e, p, payload]) => fullPacket(c, e, p, payload));

/** Byte edits, then an optional cut: what loss, bit flips or a hostile sender produce. */
const mutated = fc.tuple(validPacket, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.option(fc.nat()))
  .map(([b, edits, cut]) => {
    const m = Buffer.from(b);
    for (const [i, v] of edits) m[i % m.length] = v;
    return cut === null ? m : m.subarray(0, cut % (m.length + 1));
  });

function check(buf: Buffer): void {
  looksLikeRtcp(buf);
  const r = parsesOrParseError(() => parseRtpPacket(buf));
  if (r instanceof ParseError) return;
  // The payload is a view inside the datagram, after the 12-byte header.
  expect(r.payload.byteOffset - buf.byteOffset).toBeGreaterThanOrEqual(12);
  expect(r.payload.byteOffset - buf.byteOffset + r.payload.length).toBeLessThanOrEqual(buf.length);
  expect(r.payloadType).toBeLessThan(128);
}

describe('parseRtpPacket properties', () => {
  it('valid packets with CSRCs, extension and padding give back their payload', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 15 }), fc.integer({ min: -1, max: 4 }), fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 64 }), (c, e, p, payload) => {
      const r = parseRtpPacket(fullPacket(c, e, p, payload));
      expect(r.payload.equals(Buffer.from(payload))).toBe(true);
      expect([r.payloadType, r.marker, r.seq, r.timestamp, r.ssrc]).toEqual([96, true, 7, 9000, 0x11223344]);
    }), { numRuns: 500 });
  });

  it('random bytes: a packet inside the datagram or ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => check(Buffer.from(bytes))), { numRuns: RUNS });
  });

  it('random bytes starting with version 2: a packet inside the datagram or ParseError', () => {
    fc.assert(fc.property(fc.nat(63), fc.uint8Array({ maxLength: 120 }), (low, bytes) => check(Buffer.concat([Buffer.of(0x80 | low), Buffer.from(bytes)]))), { numRuns: RUNS });
  });

  it('mutated and truncated valid packets: a packet inside the datagram or ParseError', () => {
    fc.assert(fc.property(mutated, check), { numRuns: RUNS });
  });
});
