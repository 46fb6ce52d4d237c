import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { RtpHeader, RtpPacket } from 'werift-rtp';
import { ParseError } from '../../../src/shared/errors.js';
import { looksLikeRtcp, parseRtpPacket, serializeRtpPacket } from '../../../src/rtp/rtp-packet.js';

describe('RTP packet codec', () => {
  it('round-trips a plain packet and matches an independent serializer', () => {
    const h = { payloadType: 96, marker: true, seq: 65535, timestamp: 0xfffffff0, ssrc: 0xcafebabe };
    const payload = Buffer.from('0102030405', 'hex');
    const ours = serializeRtpPacket(h, payload);
    const theirs = new RtpPacket(new RtpHeader({ payloadType: 96, marker: true, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xcafebabe }), payload).serialize();
    expect(ours.equals(theirs)).toBe(true);
    const p = parseRtpPacket(ours);
    expect(p).toMatchObject(h);
    expect(p.payload.equals(payload)).toBe(true);
  });

  it('skips CSRCs and a header extension, strips padding (RFC 3550 §5.1, §5.3.1)', () => {
    const buf = Buffer.from(
      'b2' + '08' + '0001' + '00000002' + '00000003' // V=2 P=1 X=1 CC=2
      + '0000000a' + '0000000b' // CSRCs
      + 'bede0001' + '10ff0000' // one-byte extension, 1 word
      + 'aabb' + '0002', // payload aabb, 2 padding bytes
      'hex',
    );
    const p = parseRtpPacket(buf);
    expect(p.payloadType).toBe(8);
    expect(p.payload.toString('hex')).toBe('aabb');
  });

  it('rejects malformed packets with ParseError', () => {
    const ok = serializeRtpPacket({ payloadType: 0, marker: false, seq: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4));
    expect(() => parseRtpPacket(ok.subarray(0, 11))).toThrow(ParseError);
    const v1 = Buffer.from(ok);
    v1[0] = 0x40;
    expect(() => parseRtpPacket(v1)).toThrow(ParseError);
    const cc = Buffer.from(ok);
    cc[0] = 0x8f; // 15 CSRCs announced
    expect(() => parseRtpPacket(cc)).toThrow(ParseError);
    const pad = Buffer.from(ok);
    pad[0] = 0xa0;
    pad[pad.length - 1] = 200;
    expect(() => parseRtpPacket(pad)).toThrow(ParseError);
  });

  it('property: arbitrary bytes parse or throw ParseError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const p = parseRtpPacket(Buffer.from(bytes));
        // The payload is what follows header, CSRCs and extension, less the padding.
        expect(p.payload.length).toBeLessThanOrEqual(bytes.length - 12);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
      }
    }));
  });

  it('recognizes RTCP multiplexed on the RTP port (RFC 5761 §4)', () => {
    expect(looksLikeRtcp(Buffer.from('80c90001', 'hex'))).toBe(true);
    expect(looksLikeRtcp(Buffer.from('80e00001', 'hex'))).toBe(false); // PT 96 with marker
    expect(looksLikeRtcp(Buffer.from('8008', 'hex'))).toBe(false);
  });
});
