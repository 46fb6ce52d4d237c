import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { silentLogger } from '../../../src/shared/logger.js';
import type { AudioFrame, MediaFrame, VideoFrame } from '../../../src/shared/media.js';
import { InvalidStateError, ValidationError } from '../../../src/shared/errors.js';
import { PortAllocator, type RtpSocketPair } from '../../../src/rtp/port-allocator.js';
import { RtpSession } from '../../../src/rtp/rtp-session.js';
import { parseRtpPacket, serializeRtpPacket, type RtpPacketView } from '../../../src/rtp/rtp-packet.js';
import { decodeTelephoneEvent, encodeTelephoneEvent, planDigit } from '../../../src/rtp/dtmf.js';
import { freeUdpPortRange } from '../../helpers/ports.js';
import { waitUntil } from '../../helpers/wait.js';
import { fuA, nal, stapA } from '../../helpers/h264-units.js';

/** The far end: an RTP and an RTCP socket on 127.0.0.1 recording what they receive. */
class Peer {
  rtpIn: Buffer[] = [];
  rtcpIn: Buffer[] = [];
  seq = 1000;
  constructor(readonly rtp: dgram.Socket, readonly rtcp: dgram.Socket, readonly port: number) {
    rtp.on('message', (m) => this.rtpIn.push(m));
    rtcp.on('message', (m) => this.rtcpIn.push(m));
  }
  static async open(): Promise<Peer> {
    const base = await freeUdpPortRange(2);
    const bind = (p: number) => new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(p, '127.0.0.1', () => resolve(s));
    });
    return new Peer(await bind(base), await bind(base + 1), base);
  }
  send(to: number, pt: number, payload: Buffer, ts: number, marker = false, seq = this.seq++, ssrc = 0x5eed): void {
    this.rtp.send(serializeRtpPacket({ payloadType: pt, marker, seq: seq & 0xffff, timestamp: ts, ssrc }, payload), to, '127.0.0.1');
  }
  raw(to: number, bytes: Buffer): void {
    this.rtp.send(bytes, to, '127.0.0.1');
  }
  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

/** Feedback packets (PT 206) in received compound RTCP: [fmt, mediaSsrcOrFciSsrc]. */
function feedback(bufs: Buffer[]): { fmt: number; ssrc: number }[] {
  const out: { fmt: number; ssrc: number }[] = [];
  for (const b of bufs) {
    for (let o = 0; o + 4 <= b.length; o += (b.readUInt16BE(o + 2) + 1) * 4) {
      if (b[o + 1] === 206) {
        const fmt = b[o]! & 0x1f;
        out.push({ fmt, ssrc: fmt === 4 ? b.readUInt32BE(o + 12) : b.readUInt32BE(o + 8) });
      }
    }
  }
  return out;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function setup(kind: 'audio' | 'video', learn: boolean, jitterBufferMs = 40, symmetricLatching = false) {
  const peer = await Peer.open();
  cleanups.push(() => peer.close());
  const base = await freeUdpPortRange(2);
  const pair: RtpSocketPair = await new PortAllocator({ min: base, max: base + 1, host: '127.0.0.1' }).allocate();
  const session = new RtpSession({
    kind,
    sockets: pair,
    payloadTypes: kind === 'audio'
      ? { 8: { name: 'PCMA', clockRate: 8000 }, 101: { name: 'telephone-event', clockRate: 8000 } }
      : { 96: { name: 'H264', clockRate: 90000 } },
    remote: learn ? null : { host: '127.0.0.1', rtpPort: peer.port, rtcpPort: peer.port + 1 },
    jitterBufferMs,
    symmetricLatching,
    log: silentLogger(),
  });
  cleanups.push(() => session.close());
  const frames: MediaFrame[] = [];
  session.on('frame', (f) => frames.push(f));
  session.start();
  return { peer, pair, session, frames };
}

describe('RtpSession (audio, 127.0.0.1)', () => {
  it('reorders G.711 packets into frames on one clock, drops garbage, learns the remote address', async () => {
    const { peer, pair, session, frames } = await setup('audio', true);
    const payload = (i: number) => Buffer.alloc(160, i);
    // seq 0..5 sent as 0,2,1,3,5,4 plus a duplicate.
    for (const i of [0, 2, 1, 3, 3, 5, 4]) peer.send(pair.rtpPort, 8, payload(i), 1000 + i * 160, false, 500 + i);
    peer.raw(pair.rtpPort, Buffer.from([0x80, 0x08, 0x00])); // too short
    peer.raw(pair.rtpPort, Buffer.alloc(40, 0x40)); // version 1
    peer.send(pair.rtpPort, 0, payload(9), 0); // PCMU not negotiated
    await waitUntil(() => frames.length === 6 && session.stats.discarded === 3, 3000);
    const audio = frames as AudioFrame[];
    expect(audio.map((f) => f.data[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(audio.every((f) => f.kind === 'audio' && f.codec === 'PCMA' && f.clockRate === 8000)).toBe(true);
    const d = audio.map((f) => f.ptsMs - audio[0]!.ptsMs);
    expect(d).toEqual([0, 20, 40, 60, 80, 100]);
    expect(session.remote).toEqual({ host: '127.0.0.1', rtpPort: peer.port, rtcpPort: peer.port + 1 });
    const st = session.stats;
    expect(st.unexpectedPayloadType).toBe(1);
    expect(st.packets).toBe(7);
    expect(st.lost).toBe(0);
    expect(st.lastPacketAt).not.toBeNull();
  });

  it('emits received RFC 4733 digits once each', async () => {
    const { peer, pair, session } = await setup('audio', true);
    const digits: [string, number][] = [];
    session.on('dtmf', (d, ms) => digits.push([d, ms]));
    for (const p of planDigit(9, 120, 10, 8000)) peer.send(pair.rtpPort, 101, encodeTelephoneEvent(p.payload), 4000, p.marker);
    for (const p of planDigit(10, 200, 10, 8000)) peer.send(pair.rtpPort, 101, encodeTelephoneEvent(p.payload), 8000, p.marker);
    await waitUntil(() => digits.length === 2, 3000);
    expect(digits).toEqual([['9', 120], ['*', 200]]);
  });

  it('sends RFC 4733 DTMF with marker, event codes, end bit ×3 and durations', async () => {
    const { peer, session } = await setup('audio', false);
    const t0 = Date.now();
    await session.sendDtmf('1#', 101, { durationMs: 100, volume: 7 });
    const elapsed = Date.now() - t0;
    await waitUntil(() => peer.rtpIn.length >= 16, 2000);
    const pkts: RtpPacketView[] = peer.rtpIn.map((b) => parseRtpPacket(b));
    expect(pkts).toHaveLength(16); // (5 updates + 3 ends) × 2 digits
    expect(pkts.every((p) => p.payloadType === 101 && p.ssrc === session.sender.ssrc)).toBe(true);
    for (let i = 1; i < pkts.length; i++) expect(pkts[i]!.seq).toBe((pkts[0]!.seq + i) & 0xffff);
    for (const [k, code] of [[0, 1], [1, 11]] as const) {
      const digit = pkts.slice(k * 8, k * 8 + 8);
      const ev = digit.map((p) => decodeTelephoneEvent(p.payload));
      expect(digit.map((p) => p.marker)).toEqual([true, false, false, false, false, false, false, false]);
      expect(new Set(digit.map((p) => p.timestamp)).size).toBe(1);
      expect(ev.every((e) => e.event === code && e.volume === 7)).toBe(true);
      expect(ev.map((e) => e.end)).toEqual([false, false, false, false, false, true, true, true]);
      expect(ev.map((e) => e.duration)).toEqual([160, 320, 480, 640, 800, 800, 800, 800]);
    }
    // Second event starts later on the same clock: 2 × 140 ms + 60 ms gap ≈ 200+ ms of RTP time.
    expect(pkts[8]!.timestamp - pkts[0]!.timestamp).toBeGreaterThanOrEqual(8 * 190);
    expect(elapsed).toBeGreaterThanOrEqual(2 * 140 + 60 - 5);
  });

  it('rejects bad digits, and DTMF on a closed session', async () => {
    const { session } = await setup('audio', false);
    await expect(session.sendDtmf('12x', 101)).rejects.toBeInstanceOf(ValidationError);
    const pending = session.sendDtmf('123', 101);
    setTimeout(() => session.close(), 50);
    await expect(pending).rejects.toBeInstanceOf(InvalidStateError);
    await expect(session.sendDtmf('1', 101)).rejects.toBeInstanceOf(InvalidStateError);
  });

  it('cannot send DTMF before the remote address is known', async () => {
    const { session } = await setup('audio', true);
    await expect(session.sendDtmf('1', 101)).rejects.toBeInstanceOf(InvalidStateError);
  });
});

describe('RtpSession (video, 127.0.0.1)', () => {
  it('asks for a keyframe at start, emits access units from IDR on, and drops + re-requests on loss', async () => {
    const { peer, pair, session, frames } = await setup('video', false, 30);
    let needed = 0;
    session.on('keyframeNeeded', () => needed++);
    const port = pair.rtpPort;
    const sendAu = (ts: number, payloads: Buffer[], skip = -1) => payloads.forEach((p, i) => {
      const seq = peer.seq++;
      if (i !== skip) peer.send(port, 96, p, ts, i === payloads.length - 1, seq);
    });
    const keyframe = () => [stapA(nal(7, 12), nal(8, 4)), ...fuA(nal(5, 4000), 1200)];
    // A P-frame first: held back, PLI sent at the first packet.
    sendAu(0, [nal(1, 300)]);
    await waitUntil(() => feedback(peer.rtcpIn).some((f) => f.fmt === 1 && f.ssrc === 0x5eed), 2000);
    expect(needed).toBeGreaterThanOrEqual(1);
    expect(frames).toHaveLength(0);
    sendAu(3000, keyframe());
    sendAu(6000, [nal(1, 300)]);
    await waitUntil(() => frames.length === 2, 2000);
    const v = frames as VideoFrame[];
    expect(v.map((f) => [f.key, f.nalus.map((n) => n[0]! & 0x1f)])).toEqual([[true, [7, 8, 5]], [false, [1]]]);
    expect(v[0]!.nalus[2]!.length).toBe(4000);
    expect(v[1]!.ptsMs - v[0]!.ptsMs).toBeCloseTo(1000 / 30, 6);
    // Loss inside an FU-A: frame dropped, keyframe requested, P-frames held until the next IDR.
    const before = needed;
    sendAu(9000, fuA(nal(1, 3000), 1000), 1);
    sendAu(12000, [nal(1, 300)]);
    await waitUntil(() => needed > before, 2000);
    // No keyframe within ~1 s → FIR.
    await waitUntil(() => feedback(peer.rtcpIn).some((f) => f.fmt === 4 && f.ssrc === 0x5eed), 3000);
    expect(frames).toHaveLength(2);
    sendAu(15000, keyframe());
    await waitUntil(() => frames.length === 3, 2000);
    expect((frames[2] as VideoFrame).key).toBe(true);
    expect(session.stats.lost).toBe(1);
    expect(session.stats.firSent).toBeGreaterThanOrEqual(1);
  });

  it('sends RTCP receiver reports with a report block to the remote RTCP port', async () => {
    const { peer, pair } = await setup('video', false, 30);
    for (let i = 0; i < 10; i++) if (i !== 4) peer.send(pair.rtpPort, 96, nal(1, 100), i * 3000, true, 2000 + i, 0xabc);
    // The first RR may go out with the start-up PLI, before all packets arrived.
    const rr = await waitUntil(
      () => peer.rtcpIn.find((b) => b[1] === 201 && (b[0]! & 0x1f) === 1 && b.readUInt32BE(16) === 2009),
      5000,
    );
    expect(rr.readUInt32BE(4)).not.toBe(0xabc); // our own SSRC
    expect(rr.readUInt32BE(8)).toBe(0xabc); // reportee SSRC
    expect(rr.readUIntBE(13, 3)).toBe(1); // cumulative lost
    expect(rr.readUInt32BE(16)).toBe(2009); // extended highest sequence
    // SDES CNAME follows in the same compound packet (RFC 3550 §6.1).
    expect(rr[rr.readUInt16BE(2) * 4 + 4 + 1]).toBe(202);
  });
});

/** A stranger: a socket on another loopback address (127.0.0.2) or another port of the far end's. */
async function stranger(address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, address, () => resolve());
  });
  cleanups.push(() => s.close());
  return s;
}

describe('RtpSession: media only from the far end', () => {
  const pkt = (seq: number, ssrc: number, fill: number) => serializeRtpPacket({ payloadType: 8, marker: false, seq, timestamp: seq * 160, ssrc }, Buffer.alloc(160, fill));

  it('drops RTP and RTCP from another address, and a new SSRC from another port of the far end\'s address', async () => {
    const { peer, pair, session, frames } = await setup('audio', false);
    for (let i = 0; i < 5; i++) peer.send(pair.rtpPort, 8, Buffer.alloc(160, 1), i * 160, false, 100 + i, 0x1111);
    await waitUntil(() => frames.length === 5, 3000);
    const other = await stranger('127.0.0.2');
    const sameHost = await stranger('127.0.0.1');
    for (let i = 0; i < 20; i++) {
      other.send(pkt(105 + i, 0x6666, 9), pair.rtpPort, '127.0.0.1');
      sameHost.send(pkt(105 + i, 0x7777, 9), pair.rtpPort, '127.0.0.1');
    }
    // A forged RTCP BYE / SR from the stranger's address.
    other.send(Buffer.from([0x81, 203, 0, 1, 0, 0, 0x11, 0x11]), pair.rtcpPort, '127.0.0.1');
    await waitUntil(() => session.stats.foreign === 41, 3000);
    // The far end goes on; none of the stranger's packets was counted, released or taken as a new source.
    for (let i = 5; i < 10; i++) peer.send(pair.rtpPort, 8, Buffer.alloc(160, 1), i * 160, false, 100 + i, 0x1111);
    await waitUntil(() => frames.length === 10, 3000);
    expect(frames.every((f) => (f as AudioFrame).data[0] === 1)).toBe(true);
    expect(session.stats.packets).toBe(10);
    expect(session.stats.lost).toBe(0);
  });

  it('with symmetric latching, takes the first source from any address and sends RTCP back to it', async () => {
    const { pair, session, frames } = await setup('audio', false, 40, true);
    const natted = await stranger('127.0.0.2');
    const rtcpBack: Buffer[] = [];
    natted.on('message', (m) => rtcpBack.push(m));
    for (let i = 0; i < 3; i++) natted.send(pkt(10 + i, 0x2222, 3), pair.rtpPort, '127.0.0.1');
    await waitUntil(() => frames.length === 3, 3000);
    expect(session.remote).toMatchObject({ host: '127.0.0.2', rtpPort: natted.address().port });
    const late = await stranger('127.0.0.1');
    late.send(pkt(13, 0x3333, 4), pair.rtpPort, '127.0.0.1');
    await waitUntil(() => session.stats.foreign === 1, 3000);
    expect(frames).toHaveLength(3);
    // RTP goes back to the latched source (here: an RFC 4733 digit).
    await session.sendDtmf('1', 101, { durationMs: 40 });
    await waitUntil(() => rtcpBack.some((b) => (b[1]! & 0x7f) === 101), 3000);
  });
});
