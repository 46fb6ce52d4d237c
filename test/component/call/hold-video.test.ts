/**
 * HoldVideo with the real generated video (made on a codec worker): on hold
 * the far end's frames are held back and the black loop runs at 10 fps in
 * the output's codec; off hold the loop stops, the far end is asked for a
 * keyframe, its frames wait for it, and an H.264 keyframe without in-band
 * SPS/PPS gets the far end's last ones back.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { HoldVideo } from '../../../src/call/hold-video.js';
import { NAL, nalType, type VideoFrame } from '../../../src/shared/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { waitUntil } from '../../helpers/wait.js';

const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0x01]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const IDR = Buffer.from([0x65, 0x88, 0x84]);
const P = Buffer.from([0x41, 0x9a, 0x02]);
const opened: HoldVideo[] = [];

afterEach(() => {
  for (const h of opened.splice(0)) h.close();
});

function far(nalus: Buffer[], key: boolean, ptsMs = 0): VideoFrame {
  return { kind: 'video', codec: 'H264', ptsMs, key, nalus };
}

function make(codec: 'H264' | 'VP8'): { h: HoldVideo; out: VideoFrame[]; asks: () => number } {
  const out: VideoFrame[] = [];
  let asks = 0;
  const h = new HoldVideo({ codec: () => codec, slate: { fps: 10 }, onFrame: (f) => out.push(f), requestKeyframe: () => asks++, log: silentLogger() });
  opened.push(h);
  return { h, out, asks: () => asks };
}

describe('HoldVideo', () => {
  it('H.264: generated video while held, then the far end\'s from its next keyframe with its parameter sets back', async () => {
    const { h, out, asks } = make('H264');
    const first = far([SPS, PPS, IDR], true);
    expect(h.filter(first)).toBe(first);
    expect(h.filter(far([P], false))).not.toBeNull();

    h.set(true);
    expect(h.filter(far([P], false))).toBeNull();
    expect(h.filter(far([SPS, PPS, IDR], true))).toBeNull();
    await waitUntil(() => out.length >= 10, 5000, 20, 'ten generated frames');
    expect(out[0]).toMatchObject({ codec: 'H264', key: true });
    expect(out[0]!.nalus.map(nalType)).toEqual(expect.arrayContaining([NAL.SPS, NAL.PPS, NAL.IDR]));
    expect(out.flatMap((f) => f.nalus.map(nalType))).not.toContain(NAL.SEI);
    const pts = out.map((f) => f.ptsMs);
    expect(pts.slice(1).map((p, i) => Math.round(p - pts[i]!))).toEqual(Array(pts.length - 1).fill(100));

    h.set(false);
    const generated = out.length;
    expect(asks()).toBe(1);
    expect(h.filter(far([P], false))).toBeNull();
    const back = h.filter(far([IDR], true));
    expect(back!.nalus).toEqual([SPS, PPS, IDR]);
    expect(h.filter(far([P], false))!.nalus).toEqual([P]);
    await new Promise((r) => setTimeout(r, 300));
    expect(out.length).toBe(generated);
  });

  it('VP8: the generated loop is VP8, starting on a keyframe; close stops it', async () => {
    const { h, out } = make('VP8');
    h.set(true);
    await waitUntil(() => out.length >= 3, 5000, 20, 'generated VP8 frames');
    expect(out[0]).toMatchObject({ codec: 'VP8', key: true });
    expect(out[1]).toMatchObject({ codec: 'VP8', key: false });
    h.close();
    const n = out.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(out.length).toBe(n);
  });
});
