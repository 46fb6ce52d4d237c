import { describe, it, expect } from 'vitest';
import { H264Depacketizer, MAX_FRAME_BYTES } from '../../../src/rtp/h264-depacketizer.js';
import { Vp8Depacketizer } from '../../../src/rtp/vp8-depacketizer.js';
import { fuA, nal, stapA } from '../../helpers/h264-units.js';

function make() {
  const frames: { nalus: Buffer[]; key: boolean; ts: number }[] = [];
  const requests: string[] = [];
  const d = new H264Depacketizer({
    frame: (nalus, key, ts) => frames.push({ nalus, key, ts }),
    keyframeNeeded: (r) => requests.push(r),
  });
  return { d, frames, requests };
}

const sps = nal(7, 10);
const pps = nal(8, 4);
const idr = nal(5, 3000);
const pSlice = nal(1, 500);

/** Feeds one access unit: STAP-A(SPS,PPS) + FU-A(IDR), marker on the last. */
function feedKeyframe(d: H264Depacketizer, ts: number, gapOnPacket = -1, skipPacket = -1): void {
  const pkts = [stapA(sps, pps), ...fuA(idr, 1000)];
  pkts.forEach((p, i) => {
    if (i === skipPacket) return;
    d.push(p, ts, i === pkts.length - 1, i === gapOnPacket ? 1 : 0);
  });
}

describe('H264Depacketizer', () => {
  it('reassembles STAP-A and FU-A into one access unit, key on IDR', () => {
    const { d, frames, requests } = make();
    feedKeyframe(d, 9000);
    expect(frames).toHaveLength(1);
    const f = frames[0]!;
    expect(f.key).toBe(true);
    expect(f.ts).toBe(9000);
    expect(f.nalus.map((n) => n[0]! & 0x1f)).toEqual([7, 8, 5]);
    expect(f.nalus[0]!.equals(sps)).toBe(true);
    expect(f.nalus[1]!.equals(pps)).toBe(true);
    expect(f.nalus[2]!.equals(idr)).toBe(true);
    expect(requests).toEqual([]);
  });

  it('passes single NAL unit packets and splits access units by marker and timestamp', () => {
    const { d, frames } = make();
    feedKeyframe(d, 0);
    d.push(pSlice, 3000, true, 0);
    // No marker: the unit ends when the timestamp changes.
    d.push(nal(1, 20), 6000, false, 0);
    d.push(nal(1, 30), 6000, false, 0);
    d.push(nal(1, 40), 9000, true, 0);
    expect(frames.map((f) => [f.ts, f.key, f.nalus.length])).toEqual([
      [0, true, 3], [3000, false, 1], [6000, false, 2], [9000, false, 1],
    ]);
  });

  it('holds frames back until the first IDR', () => {
    const { d, frames } = make();
    expect(d.waitingForIdr).toBe(true);
    d.push(pSlice, 0, true, 0);
    d.push(pSlice, 3000, true, 0);
    expect(frames).toHaveLength(0);
    expect(d.counters.heldBack).toBe(2);
    feedKeyframe(d, 6000);
    expect(frames.map((f) => f.key)).toEqual([true]);
    expect(d.waitingForIdr).toBe(false);
  });

  it('drops a unit with a lost FU-A fragment, asks for a keyframe, and holds P-frames until the next IDR', () => {
    const { d, frames, requests } = make();
    feedKeyframe(d, 0);
    d.push(pSlice, 3000, true, 0);
    expect(frames).toHaveLength(2);
    // IDR at 6000 loses its second FU-A fragment (packet index 2): the jitter
    // buffer reports a gap of 1 on the next packet.
    feedKeyframe(d, 6000, 3, 2);
    expect(frames).toHaveLength(2);
    expect(requests).toEqual(['incomplete access unit']);
    expect(d.counters.corrupt).toBe(1);
    d.push(pSlice, 9000, true, 0);
    d.push(pSlice, 12000, true, 0);
    expect(frames).toHaveLength(2);
    feedKeyframe(d, 15000);
    expect(frames.map((f) => [f.ts, f.key])).toEqual([[0, true], [3000, false], [15000, true]]);
    d.push(pSlice, 18000, true, 0);
    expect(frames).toHaveLength(4);
  });

  it('detects a lost FU-A start without a reported gap', () => {
    const { d, frames, requests } = make();
    feedKeyframe(d, 0);
    const parts = fuA(nal(1, 2500), 1000);
    d.push(parts[1]!, 3000, false, 0);
    d.push(parts[2]!, 3000, true, 0);
    expect(frames).toHaveLength(1);
    expect(requests).toHaveLength(1);
    expect(d.waitingForIdr).toBe(true);
  });

  it('a gap between access units breaks the chain at once', () => {
    const { d, frames, requests } = make();
    feedKeyframe(d, 0);
    d.push(pSlice, 6000, true, 1); // the frame at 3000 was lost entirely
    expect(frames).toHaveLength(1);
    expect(requests).toEqual(['packet loss']);
  });

  it('a missing marker packet makes the unit incomplete when the next unit starts', () => {
    const { d, frames, requests } = make();
    feedKeyframe(d, 0);
    const parts = fuA(nal(1, 2500), 1000);
    d.push(parts[0]!, 3000, false, 0);
    d.push(parts[1]!, 3000, false, 0);
    // parts[2] (with the marker) lost; next unit arrives with gap 1.
    d.push(pSlice, 6000, true, 1);
    expect(frames).toHaveLength(1);
    expect(requests).toEqual(['incomplete access unit']);
  });

  it('treats malformed STAP-A as a corrupt unit and ignores unsupported types', () => {
    const { d, frames } = make();
    feedKeyframe(d, 0);
    const bad = stapA(nal(1, 10));
    d.push(bad.subarray(0, bad.length - 3), 3000, true, 0);
    expect(frames).toHaveLength(1);
    expect(d.counters.corrupt).toBe(1);
    feedKeyframe(d, 6000);
    d.push(Buffer.from([0x79, 0, 0]), 9000, false, 0); // STAP-B (mode 2)
    d.push(pSlice, 9000, true, 0);
    expect(frames).toHaveLength(3);
    expect(d.counters.unsupported).toBe(1);
  });
});

describe('bounded memory', () => {
  it('H.264 and VP8: a frame that never ends (one timestamp, no marker) is dropped past MAX_FRAME_BYTES and a keyframe asked for', () => {
    const frames: number[] = [];
    const needed: string[] = [];
    const h = new H264Depacketizer({ frame: (n) => frames.push(n.length), keyframeNeeded: (r) => needed.push(r) });
    const v = new Vp8Depacketizer({ frame: (f) => frames.push(f.length), keyframeNeeded: (r) => needed.push(r) });
    const chunk = Buffer.alloc(60_000, 0x41);
    chunk[0] = 0x41; // H.264 non-IDR slice; for VP8 a descriptor with S=0 after the first
    const vp8First = Buffer.concat([Buffer.from([0x10]), Buffer.alloc(59_999, 0)]);
    const n = Math.ceil(MAX_FRAME_BYTES / chunk.length) + 20;
    v.push(vp8First, 1, false, 0);
    for (let i = 0; i < n; i++) {
      h.push(chunk, 1, false, 0);
      v.push(Buffer.concat([Buffer.from([0x00]), chunk.subarray(1)]), 1, false, 0);
    }
    h.push(chunk, 1, true, 0);
    v.push(Buffer.from([0x00, 1]), 1, true, 0);
    expect(frames).toEqual([]);
    expect(h.counters.corrupt).toBe(1);
    expect(v.counters.corrupt).toBe(1);
    expect(needed.filter((r) => /incomplete/.test(r))).toHaveLength(2);
  });
});
