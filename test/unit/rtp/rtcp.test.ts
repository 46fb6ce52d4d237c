import { describe, it, expect } from 'vitest';
import { RtcpPacketConverter, RtcpPayloadSpecificFeedback, RtcpRrPacket, RtcpSrPacket, RtcpSenderInfo, PictureLossIndication } from 'werift-rtp';
import { ParseError } from '../../../src/shared/errors.js';
import {
  buildFir, buildPli, buildReceiverReport, buildSdesCname, ntpMiddle32, parseRtcpCompound,
} from '../../../src/rtp/rtcp.js';

describe('RTCP builders', () => {
  it('PLI is byte-exact (RFC 4585 §6.3.1)', () => {
    expect(buildPli(0x11223344, 0xaabbccdd).toString('hex')).toBe('81ce0002' + '11223344' + 'aabbccdd');
  });

  it('FIR is byte-exact (RFC 5104 §4.3.1): media SSRC 0, FCI = SSRC + seq nr + reserved', () => {
    expect(buildFir(0x11223344, 0xaabbccdd, 7).toString('hex')).toBe(
      '84ce0004' + '11223344' + '00000000' + 'aabbccdd' + '07000000',
    );
    expect(buildFir(1, 2, 256)[16]).toBe(0);
  });

  it('RR is byte-exact (RFC 3550 §6.4.2)', () => {
    const rr = buildReceiverReport(0x01020304, [{
      ssrc: 0xdeadbeef, fractionLost: 64, cumulativeLost: 300, extHighestSeq: 0x0001ffff,
      jitter: 123.7, lsr: 0x89abcdef, dlsr: 0x00018000,
    }]);
    expect(rr.toString('hex')).toBe(
      '81c90007' + '01020304' + 'deadbeef' + '40' + '00012c' + '0001ffff' + '0000007b' + '89abcdef' + '00018000',
    );
    expect(buildReceiverReport(5, []).toString('hex')).toBe('80c90001' + '00000005');
  });

  it('RR cumulative lost is signed 24-bit and clamped', () => {
    const block = { ssrc: 1, fractionLost: 0, extHighestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
    expect(buildReceiverReport(0, [{ ...block, cumulativeLost: -1 }]).subarray(13, 16).toString('hex')).toBe('ffffff');
    expect(buildReceiverReport(0, [{ ...block, cumulativeLost: 1e9 }]).subarray(13, 16).toString('hex')).toBe('7fffff');
  });

  it('RR and PLI decode with an independent RTCP parser', () => {
    const rr = buildReceiverReport(42, [{
      ssrc: 7, fractionLost: 25, cumulativeLost: 9, extHighestSeq: 70000, jitter: 80, lsr: 5, dlsr: 6,
    }]);
    const [p1, p2] = RtcpPacketConverter.deSerialize(Buffer.concat([rr, buildSdesCname(42, 'a@b'), buildPli(42, 7)]))
      .filter((p) => p.type !== 202);
    expect(p1).toBeInstanceOf(RtcpRrPacket);
    const r = (p1 as RtcpRrPacket).reports[0]!;
    expect([r.ssrc, r.fractionLost, r.packetsLost, r.highestSequence, r.jitter, r.lsr, r.dlsr]).toEqual([7, 25, 9, 70000, 80, 5, 6]);
    expect(p2).toBeInstanceOf(RtcpPayloadSpecificFeedback);
    const fb = (p2 as RtcpPayloadSpecificFeedback).feedback as PictureLossIndication;
    expect([fb.senderSsrc, fb.mediaSsrc]).toEqual([42, 7]);
  });

  it('SDES CNAME is padded to 32 bits with a terminating null (RFC 3550 §6.5)', () => {
    const s = buildSdesCname(0x0a0b0c0d, 'ab');
    expect(s.toString('hex')).toBe('81ca0003' + '0a0b0c0d' + '0102' + '6162' + '00000000'.slice(0, 8));
    for (let n = 0; n < 9; n++) {
      const b = buildSdesCname(1, 'x'.repeat(n));
      expect(b.length % 4).toBe(0);
      expect(b.readUInt16BE(2)).toBe(b.length / 4 - 1);
      expect(b[b.length - 1]).toBe(0);
    }
  });
});

describe('parseRtcpCompound', () => {
  it('decodes an SR and a BYE from a compound packet', () => {
    const sr = new RtcpSrPacket({
      ssrc: 0x1234,
      senderInfo: new RtcpSenderInfo({ ntpTimestamp: (0x11112222n << 32n) | 0x33334444n, rtpTimestamp: 900, packetCount: 5, octetCount: 600 }),
    }).serialize();
    const bye = Buffer.from('81cb0001' + '00001234', 'hex');
    const infos = parseRtcpCompound(Buffer.concat([sr, bye]));
    expect(infos).toEqual([
      { type: 'sr', ssrc: 0x1234, ntpSec: 0x11112222, ntpFrac: 0x33334444, rtpTimestamp: 900, packetCount: 5, octetCount: 600 },
      { type: 'bye', ssrcs: [0x1234] },
    ]);
    expect(ntpMiddle32(0x11112222, 0x33334444)).toBe(0x22223333);
  });

  it('reports other packet types and rejects malformed input', () => {
    expect(parseRtcpCompound(buildPli(1, 2))).toEqual([{ type: 'other', packetType: 206 }]);
    expect(() => parseRtcpCompound(Buffer.from([0x80]))).toThrow(ParseError);
    expect(() => parseRtcpCompound(Buffer.from('40c90001' + '00000001', 'hex'))).toThrow(ParseError);
    expect(() => parseRtcpCompound(Buffer.from('80c90005' + '00000001', 'hex'))).toThrow(ParseError);
    expect(() => parseRtcpCompound(Buffer.from('80c80001' + '00000001', 'hex'))).toThrow(ParseError);
  });
});
