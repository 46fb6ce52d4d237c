import { describe, it, expect } from 'vitest';
import dgram from 'node:dgram';
import fc from 'fast-check';
import { RtcpPacketConverter, RtcpSrPacket } from 'werift-rtp';
import { buildSenderReport, ntpFromUnixMs, parseRtcpCompound } from '../../../src/rtp/rtcp.js';
import { packetizeH264 } from '../../../src/rtp/h264-packetizer.js';
import { accessUnitsFromAud, splitAnnexB } from '../../../src/shared/h264.js';
import { H264Depacketizer } from '../../../src/rtp/h264-depacketizer.js';
import { MediaGenerator } from '../../../src/rtp/media-generator.js';
import { RtpSender } from '../../../src/rtp/rtp-sender.js';
import { parseRtpPacket } from '../../../src/rtp/rtp-packet.js';
import { nal } from '../../helpers/h264-units.js';

describe('RTCP sender report (RFC 3550 §6.4.1)', () => {
  it('is byte-exact and decodes with our parser and an independent one', () => {
    const block = { ssrc: 0xdeadbeef, fractionLost: 1, cumulativeLost: 2, extHighestSeq: 3, jitter: 4, lsr: 5, dlsr: 6 };
    const sr = buildSenderReport(0x01020304, { ntpSec: 0xe0000001, ntpFrac: 0x80000000, rtpTimestamp: 160, packetCount: 10, octetCount: 1600 }, [block]);
    expect(sr.subarray(0, 28).toString('hex')).toBe('81c8000c' + '01020304' + 'e0000001' + '80000000' + '000000a0' + '0000000a' + '00000640');
    expect(sr.length).toBe(52);
    expect(parseRtcpCompound(sr)).toEqual([{ type: 'sr', ssrc: 0x01020304, ntpSec: 0xe0000001, ntpFrac: 0x80000000, rtpTimestamp: 160, packetCount: 10, octetCount: 1600 }]);
    const [w] = RtcpPacketConverter.deSerialize(sr);
    expect(w).toBeInstanceOf(RtcpSrPacket);
    expect((w as RtcpSrPacket).reports[0]?.ssrc).toBe(0xdeadbeef);
    expect(buildSenderReport(1, { ntpSec: 0, ntpFrac: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 }, []).toString('hex')).toBe('80c80006' + '00000001' + '0'.repeat(40));
  });

  it('converts Unix ms to NTP', () => {
    expect(ntpFromUnixMs(0)).toEqual({ ntpSec: 2_208_988_800, ntpFrac: 0 });
    expect(ntpFromUnixMs(1500).ntpFrac).toBe(0x80000000);
  });
});

describe('H.264 packetizer (RFC 6184 mode 1)', () => {
  it('round-trips any access unit through the depacketizer, marker on the last packet only', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 100, max: 1400 }), (sizes, mtu) => {
      const au = [nal(5, sizes[0]!), ...sizes.slice(1).map((n) => nal(1, n))];
      const pkts = packetizeH264(au, mtu);
      expect(pkts.every((p) => p.payload.length <= mtu)).toBe(true);
      expect(pkts.map((p) => p.marker)).toEqual(pkts.map((_, i) => i === pkts.length - 1));
      const out: Buffer[][] = [];
      const d = new H264Depacketizer({ frame: (n) => out.push(n), keyframeNeeded: () => undefined });
      pkts.forEach((p) => d.push(p.payload, 1000, p.marker, 0));
      expect(out).toHaveLength(1);
      expect(out[0]!.map((b) => b.toString('hex'))).toEqual(au.map((b) => b.toString('hex')));
    }));
  });

  it('splits Annex B (3- and 4-byte start codes) and groups access units at AUDs', () => {
    const aud = Buffer.from([0x09, 0xf0]);
    const stream = Buffer.concat([
      Buffer.from([0, 0, 0, 1]), aud, Buffer.from([0, 0, 0, 1, 0x67, 1, 2]), Buffer.from([0, 0, 1, 0x68, 3]), Buffer.from([0, 0, 1, 0x65, 4, 0]),
      Buffer.from([0, 0, 0, 1]), aud, Buffer.from([0, 0, 1, 0x41, 5]),
    ]);
    const nalus = splitAnnexB(stream);
    expect(nalus.map((n) => n.toString('hex'))).toEqual(['09f0', '670102', '6803', '6504', '09f0', '4105']);
    expect(accessUnitsFromAud(nalus).map((au) => au.map((n) => n.toString('hex')))).toEqual([['670102', '6803', '6504'], ['4105']]);
  });
});

describe('MediaGenerator', () => {
  it('sends a unit every unitMs with timestamps +1 unit, cycling the loop, nothing while paused', async () => {
    const rx = dgram.createSocket('udp4');
    const tx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => tx.bind(0, '127.0.0.1', () => r()));
    const got: ReturnType<typeof parseRtpPacket>[] = [];
    rx.on('message', (m) => got.push(parseRtpPacket(Buffer.from(m))));
    const sender = new RtpSender(tx, 8000, () => ({ host: '127.0.0.1', port: rx.address().port }));
    let paused = false;
    const units = [[{ payload: Buffer.from([1]), marker: false }], [{ payload: Buffer.from([2]), marker: true }]];
    const g = new MediaGenerator(sender, { payloadType: 8, units, unitMs: 20 }, () => paused);
    g.start();
    await new Promise((r) => setTimeout(r, 210));
    paused = true;
    await new Promise((r) => setTimeout(r, 100));
    const before = got.length;
    paused = false;
    await new Promise((r) => setTimeout(r, 100));
    g.close();
    await new Promise((r) => setTimeout(r, 30));
    rx.close();
    tx.close();
    expect(before).toBeGreaterThanOrEqual(9);
    expect(before).toBeLessThanOrEqual(13);
    const first = got.slice(0, before);
    expect(first.map((p) => p.payload[0])).toEqual(first.map((_, i) => (i % 2) + 1));
    first.forEach((p, i) => {
      expect(p.payloadType).toBe(8);
      expect(((p.timestamp - first[0]!.timestamp) >>> 0)).toBe(i * 160);
      expect((p.seq - first[0]!.seq) & 0xffff).toBe(i);
    });
    // After the pause: the loop restarts at its first unit; time kept running (≈ 5 units skipped).
    const resumed = got[before]!;
    expect(resumed.payload[0]).toBe(1);
    expect(((resumed.timestamp - got[before - 1]!.timestamp) >>> 0) / 160).toBeGreaterThanOrEqual(4);
    expect((resumed.seq - got[before - 1]!.seq) & 0xffff).toBe(1);
  });
});
