import { describe, it, expect, afterEach, vi } from 'vitest';
import dgram from 'node:dgram';
import { RtcpPacketConverter, RtcpTransportLayerFeedback, GenericNack } from 'werift-rtp';
import { buildNack } from '../../../src/rtp/rtcp.js';
import { KeyframeRequester } from '../../../src/rtp/keyframe-requester.js';
import { NackTracker } from '../../../src/rtp/nack-tracker.js';
import { PortAllocator } from '../../../src/rtp/port-allocator.js';
import { RtpSession } from '../../../src/rtp/rtp-session.js';
import { serializeRtpPacket } from '../../../src/rtp/rtp-packet.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freeUdpPortRange } from '../../helpers/ports.js';
import { waitUntil } from '../../helpers/wait.js';
import { nal } from '../../helpers/h264-units.js';

describe('generic NACK (RFC 4585 §6.2.1)', () => {
  it('is byte-exact: PID + BLP per run of up to 17', () => {
    expect(buildNack(0x01020304, 0xaabbccdd, [100, 101, 103, 117, 118]).toString('hex')).toBe(
      '81cd0004' + '01020304' + 'aabbccdd' + '0064' + '0005' + '0075' + '0001',
    );
  });

  it('handles wrap-around and decodes with an independent parser', () => {
    const nack = buildNack(1, 2, [65535, 0, 1, 40]);
    const [p] = RtcpPacketConverter.deSerialize(nack);
    expect(p).toBeInstanceOf(RtcpTransportLayerFeedback);
    const fb = (p as RtcpTransportLayerFeedback).feedback as GenericNack;
    expect(fb.mediaSourceSsrc).toBe(2);
    expect(fb.lost.map((n) => n & 0xffff)).toEqual([65535, 0, 1, 40]);
  });
});

describe('NackTracker', () => {
  it('NACKs a gap only after the delay, not when reordering heals it, retries once, handles wrap', () => {
    const t = new NackTracker({ delayMs: 40, retryMs: 40, maxTries: 2 });
    t.onPacket(65533, 0);
    t.onPacket(1, 10); // 65534, 65535, 0 missing
    expect(t.pending).toBe(3);
    expect(t.nextDeadline()).toBe(50);
    t.onPacket(65535, 20); // reordered, not lost
    expect(t.due(49)).toEqual([]);
    expect(t.due(50)).toEqual([65534, 0]);
    expect(t.due(89)).toEqual([]);
    expect(t.due(90)).toEqual([65534, 0]);
    expect(t.pending).toBe(0);
  });

  it('ignores bursts longer than maxRun and starts over on reset', () => {
    const t = new NackTracker({ delayMs: 10, maxRun: 10 });
    t.onPacket(100, 0);
    t.onPacket(200, 0);
    expect(t.pending).toBe(0);
    t.onPacket(203, 0);
    expect(t.pending).toBe(2);
    t.reset();
    expect(t.pending).toBe(0);
    t.onPacket(5, 0);
    expect(t.pending).toBe(0);
  });
});

describe('KeyframeRequester ladder', () => {
  afterEach(() => vi.useRealTimers());

  it('PLI at once, PLI+FIR every second, SIP after 3 unanswered rounds, nothing after the keyframe', () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const k = new KeyframeRequester({
      send: (pli, fir) => {
        log.push(`${pli ? 'P' : ''}${fir ? 'F' : ''}`);
        return true;
      },
      streamActive: () => true,
      sent: () => undefined,
      viaSip: () => log.push('SIP'),
    });
    k.request('start', 0);
    vi.advanceTimersByTime(3000);
    expect(log).toEqual(['P', 'PF', 'PF', 'PF', 'SIP']);
    k.keyframeReceived();
    vi.advanceTimersByTime(5000);
    expect(log).toHaveLength(5);
    k.close();
  });
});

describe('RtpSession NACK', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });

  it('NACKs a video sequence gap at once and completes the frame from the retransmission', async () => {
    const peerBase = await freeUdpPortRange(2);
    const peerRtp = dgram.createSocket('udp4');
    const peerRtcp = dgram.createSocket('udp4');
    await new Promise<void>((r) => peerRtp.bind(peerBase, '127.0.0.1', () => r()));
    await new Promise<void>((r) => peerRtcp.bind(peerBase + 1, '127.0.0.1', () => r()));
    cleanups.push(() => peerRtp.close(), () => peerRtcp.close());
    const rtcpIn: Buffer[] = [];
    peerRtcp.on('message', (m) => rtcpIn.push(m));
    const base = await freeUdpPortRange(2);
    const pair = await new PortAllocator({ min: base, max: base + 1, host: '127.0.0.1' }).allocate();
    const s = new RtpSession({
      kind: 'video', sockets: pair, payloadTypes: { 96: { name: 'H264', clockRate: 90000 } },
      remote: { host: '127.0.0.1', rtpPort: peerBase, rtcpPort: peerBase + 1 }, jitterBufferMs: 200, log: silentLogger(),
    });
    cleanups.push(() => s.close());
    const frames: boolean[] = [];
    s.on('frame', (f) => frames.push(f.kind === 'video' && f.key));
    s.start();
    const send = (seq: number, payload: Buffer, ts: number, marker: boolean): void => {
      peerRtp.send(serializeRtpPacket({ payloadType: 96, marker, seq, timestamp: ts, ssrc: 77 }, payload), pair.rtpPort, '127.0.0.1');
    };
    // IDR as three single-NAL packets (SPS, PPS, IDR), then P-frames; seq 13 is "lost" and resent after the NACK.
    send(10, nal(7, 10), 0, false);
    send(11, nal(8, 4), 0, false);
    send(12, nal(5, 500), 0, true);
    send(14, nal(1, 100), 6000, true);
    send(15, nal(1, 100), 9000, true);
    await waitUntil(() => rtcpIn.some((b) => b[1] === 205 || b.includes(Buffer.from([0x81, 0xcd]))), 2000, 10, 'NACK');
    expect(s.stats.nackSent).toBe(1);
    send(13, nal(1, 100), 3000, true);
    await waitUntil(() => frames.length === 4, 2000, 10, 'four frames');
    expect(frames).toEqual([true, false, false, false]);
    expect(s.stats.jitterBufferLost).toBe(0);
  });
});
