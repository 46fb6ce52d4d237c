import { describe, it, expect } from 'vitest';
import { Vp8Depacketizer, parseVp8Descriptor, vp8KeyframeSize } from '../../../src/rtp/vp8-depacketizer.js';

/** RFC 7741 packets of one frame: descriptor with a 15-bit PictureID, S on the first, `mtu` bytes of data each. */
function packetize(frame: Buffer, pictureId: number, mtu = 300): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < frame.length; o += mtu) {
    const desc = Buffer.from([0x80 | (o === 0 ? 0x10 : 0), 0x80, 0x80 | ((pictureId >> 8) & 0x7f), pictureId & 0xff]);
    out.push(Buffer.concat([desc, frame.subarray(o, o + mtu)]));
  }
  return out;
}

function keyframe(len: number): Buffer {
  const b = Buffer.alloc(len, 7);
  b[0] = 0x10; // P = 0: keyframe
  b[3] = 0x9d; b[4] = 0x01; b[5] = 0x2a;
  b.writeUInt16LE(640, 6);
  b.writeUInt16LE(360, 8);
  return b;
}
const inter = (len: number): Buffer => Buffer.alloc(len, 0x11);

function make() {
  const frames: { data: Buffer; key: boolean; ts: number }[] = [];
  const requests: string[] = [];
  const d = new Vp8Depacketizer({ frame: (data, key, ts) => frames.push({ data, key, ts }), keyframeNeeded: (r) => requests.push(r) });
  const feed = (frame: Buffer, ts: number, skip = -1, gapOn = -1): void => {
    const pk = packetize(frame, ts & 0x7fff);
    pk.forEach((p, i) => {
      if (i !== skip) d.push(p, ts, i === pk.length - 1, i === gapOn ? 1 : 0);
    });
  };
  return { d, frames, requests, feed };
}

describe('VP8 payload descriptor (RFC 7741 §4.2)', () => {
  it('reads the descriptor length for every extension combination', () => {
    expect(parseVp8Descriptor(Buffer.from([0x10, 0xaa]))).toEqual({ headerLength: 1, start: true, partition: 0 });
    expect(parseVp8Descriptor(Buffer.from([0x90, 0x80, 0x05, 0xaa])).headerLength).toBe(3);
    expect(parseVp8Descriptor(Buffer.from([0x90, 0x80, 0x85, 0x01, 0xaa])).headerLength).toBe(4);
    expect(parseVp8Descriptor(Buffer.from([0x90, 0xf0, 0x85, 0x01, 0x02, 0x03, 0xaa])).headerLength).toBe(6);
    expect(parseVp8Descriptor(Buffer.from([0x81, 0x00, 0xaa]))).toEqual({ headerLength: 2, start: false, partition: 1 });
    expect(() => parseVp8Descriptor(Buffer.from([0x90, 0x80]))).toThrow();
  });

  it('reads the keyframe size', () => {
    expect(vp8KeyframeSize(keyframe(20))).toEqual({ width: 640, height: 360 });
    expect(vp8KeyframeSize(inter(20))).toBeNull();
  });
});

describe('Vp8Depacketizer', () => {
  it('joins packets into frames, starts at a keyframe and asks for one before', () => {
    const { frames, requests, feed } = make();
    feed(inter(500), 100);
    expect(frames).toHaveLength(0);
    feed(keyframe(1000), 3100);
    feed(inter(700), 6100);
    expect(frames.map((f) => [f.key, f.data.length, f.ts])).toEqual([[true, 1000, 3100], [false, 700, 6100]]);
    expect(frames[0]!.data.equals(keyframe(1000))).toBe(true);
    expect(requests).toEqual([]);
  });

  it('drops a frame with a lost packet and holds frames back until the next keyframe', () => {
    const { frames, requests, feed, d } = make();
    feed(keyframe(900), 0);
    feed(inter(900), 3000, 1, 2); // middle packet lost
    feed(inter(300), 6000);
    feed(keyframe(900), 9000);
    expect(frames.map((f) => f.ts)).toEqual([0, 9000]);
    expect(requests).toEqual(['incomplete frame']);
    expect(d.counters).toMatchObject({ corrupt: 1, heldBack: 1, keyframes: 2 });
  });

  it('treats a missing first packet as a broken frame', () => {
    const { frames, feed } = make();
    feed(keyframe(900), 0);
    feed(inter(900), 3000, 0, 0);
    expect(frames).toHaveLength(1);
  });
});
