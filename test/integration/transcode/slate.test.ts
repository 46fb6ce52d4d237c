/**
 * Generated media, made in-process on a codec worker (libx264, libvpx) or
 * held as constants: ffmpeg/ffprobe (test peers only) decode every one.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  G722_SILENCE_20MS, makeSlateH264, makeSlateVp8, OPUS_SILENCE_20MS, SPEEX_SILENCE_20MS,
} from '../../../src/transcode/slate.js';
import { MatroskaWriter } from '../../helpers/matroska.js';
import { audioTrackFor } from '../../helpers/matroska-audio.js';

const dir = mkdtempSync(path.join(tmpdir(), 'slate-'));

/** Decodes a Matroska stream of `codec` packets to s16 mono at 16 kHz and returns the peak sample. */
function peakOf(codec: 'OPUS' | 'G722' | 'SPEEX', packet: Buffer, n: number): { peak: number; seconds: number } {
  const w = new MatroskaWriter(audioTrackFor(codec, codec === 'OPUS' ? 48000 : codec === 'SPEEX' ? 16000 : 8000));
  const mkv = Buffer.concat([w.header(), ...Array.from({ length: n }, (_, i) => w.block(packet, i * 20, true))]);
  const pcm = execFileSync('ffmpeg', ['-v', 'error', '-f', 'matroska', '-i', 'pipe:0', '-ar', '16000', '-ac', '1', '-f', 's16le', '-'], { input: mkv });
  let peak = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
  return { peak, seconds: pcm.length / 2 / 16000 };
}

interface Probe {
  frames: { key_frame: number; width: number; height: number }[];
  streams: { codec_name: string; profile?: string; width: number; height: number }[];
}

function probe(file: string, format: string, data: Buffer): Probe {
  writeFileSync(file, data);
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-f', format, '-show_frames', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as Probe;
}

/** An IVF file of VP8 frames (what ffprobe reads). */
function ivf(frames: Buffer[], width: number, height: number, fps: number): Buffer {
  const h = Buffer.alloc(32);
  h.write('DKIF', 0, 'latin1');
  h.writeUInt16LE(32, 6);
  h.write('VP80', 8, 'latin1');
  h.writeUInt16LE(width, 12);
  h.writeUInt16LE(height, 14);
  h.writeUInt32LE(fps, 16);
  h.writeUInt32LE(1, 20);
  h.writeUInt32LE(frames.length, 24);
  return Buffer.concat([h, ...frames.flatMap((f, i) => {
    const fh = Buffer.alloc(12);
    fh.writeUInt32LE(f.length, 0);
    fh.writeBigUInt64LE(BigInt(i), 4);
    return [fh, f];
  })]);
}

describe('makeSlateH264', () => {
  it('makes a decodable 2 s baseline GOP at 10 fps with an AUD per frame, cached per option set', async () => {
    const a = await makeSlateH264({ fps: 10 });
    expect(await makeSlateH264({ fps: 10 })).toBe(a);
    expect(a.length).toBeLessThan(4000);
    expect(a.subarray(0, 5).toString('hex')).toBe('0000000109'); // an AUD first
    const out = probe(path.join(dir, 'black.h264'), 'h264', a);
    expect(out.streams[0]).toMatchObject({ profile: 'Constrained Baseline', width: 320, height: 240 });
    expect(out.frames).toHaveLength(20);
    expect(out.frames.map((f) => f.key_frame)).toEqual([1, ...new Array<number>(19).fill(0)]);
  });

  it('letterboxes a still image (PNG or JPEG) into the frame: one keyframe, then P-frames', async () => {
    for (const ext of ['png', 'jpg']) {
      const image = path.join(dir, `square.${ext}`);
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=400x400', '-frames:v', '1', image]);
      const a = await makeSlateH264({ width: 640, height: 360, fps: 10, imagePath: image });
      const out = probe(path.join(dir, `image-${ext}.h264`), 'h264', a);
      expect(out.streams[0]).toMatchObject({ width: 640, height: 360 });
      expect(out.frames.map((f) => f.key_frame)).toEqual([1, ...new Array<number>(19).fill(0)]);
      // The bars: the left column of the first picture is black (the 360×360 image sits in the middle).
      const rgb = execFileSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', path.join(dir, `image-${ext}.h264`), '-frames:v', '1', '-vf', 'crop=100:360:0:0', '-f', 'rawvideo', '-pix_fmt', 'gray', '-']);
      expect(Math.max(...rgb), ext).toBeLessThan(24);
    }
  });

  it('rejects (and does not cache) a missing or unreadable image, and the worker carries on', async () => {
    await expect(makeSlateH264({ imagePath: '/nonexistent.png' })).rejects.toThrow(/ENOENT/);
    const text = path.join(dir, 'not-an-image.png');
    writeFileSync(text, 'hello');
    await expect(makeSlateH264({ imagePath: text })).rejects.toThrow(/not a PNG, JPEG or BMP/);
    await expect(makeSlateH264({ fps: 5 })).resolves.toBeInstanceOf(Buffer);
  });
});

describe('makeSlateVp8', () => {
  it('makes 2 s of decodable black VP8 at 10 fps: one keyframe, then inter frames', async () => {
    const frames = await makeSlateVp8(10);
    expect(frames).toHaveLength(20);
    expect(frames.map((f) => (f[0]! & 1) === 0)).toEqual([true, ...new Array<boolean>(19).fill(false)]);
    const out = probe(path.join(dir, 'black.ivf'), 'ivf', ivf(frames, 320, 240, 10));
    expect(out.streams[0]).toMatchObject({ codec_name: 'vp8', width: 320, height: 240 });
    expect(out.frames).toHaveLength(20);
  });
});

describe('silence constants', () => {
  it('G.722, Speex and Opus silence packets decode to 20 ms of silence each', () => {
    expect(G722_SILENCE_20MS).toHaveLength(160);
    for (const [codec, packet, limit] of [['G722', G722_SILENCE_20MS, 200], ['SPEEX', SPEEX_SILENCE_20MS, 200], ['OPUS', OPUS_SILENCE_20MS, 50]] as const) {
      const a = peakOf(codec, packet, 50);
      expect(a.seconds, codec).toBeGreaterThan(0.9);
      expect(a.seconds, codec).toBeLessThan(1.1);
      expect(a.peak, codec).toBeLessThan(limit);
    }
  });
});
