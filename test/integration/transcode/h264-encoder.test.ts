/**
 * VP8 or H.264 → H.264 in-process (h264-engine on a codec worker, through the
 * H264Encoder handle): what comes out is H.264 that ffprobe decodes, one
 * frame per input frame at the same pts, keyframes every 2 s of input time
 * (wherever the input has its own) and at once on request, scaled down to a
 * resolution cap but never up; garbage is counted and dropped, never thrown.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { H264Encoder, type H264EncoderOptions } from '../../../src/transcode/h264-encoder.js';
import { fitSize } from '../../../src/transcode/video-scaler.js';
import { MediaOutput } from '../../../src/call/media-output.js';
import { mediaClockNow } from '../../../src/rtp/media-clock.js';
import type { FlvHeaders, FlvSink } from '../../../src/pipeline/fanout.js';
import type { FlvTag } from '../../../src/pipeline/flv.js';
import { joinAnnexB, splitAnnexB } from '../../../src/shared/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { h264Frames, vp8Frames, type TestFrame } from './video-frames.js';

interface Out {
  nalus: Buffer[];
  key: boolean;
  pts: number;
}

function encoder(opts: Partial<H264EncoderOptions> = {}): { t: H264Encoder; out: Out[]; exits: boolean[] } {
  const t = new H264Encoder({ preset: 'ultrafast', keyframeIntervalS: 2, log: silentLogger(), ...opts });
  const out: Out[] = [];
  const exits: boolean[] = [];
  t.on('frame', (raw, pts, key) => out.push({ nalus: splitAnnexB(raw), key, pts }));
  t.on('exit', (_c, _s, crashed) => exits.push(crashed));
  t.start();
  return { t, out, exits };
}

interface Probed {
  codec_name: string;
  width: number;
  height: number;
  pix_fmt: string;
  nb_read_frames: string;
}

function probe(out: Out[]): Probed {
  const annexB = Buffer.concat(out.map((f) => joinAnnexB(f.nalus)));
  const json = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', '-f', 'h264', '-'], {
    input: annexB, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024,
  });
  return (JSON.parse(json) as { streams: Probed[] }).streams[0]!;
}

/** Writes the frames as a far end would, never more than the encoder's queue holds (MAX_VIDEO_QUEUE drops beyond it). */
async function feed(t: H264Encoder, frames: TestFrame[], pts: (i: number) => number, before?: (i: number) => void): Promise<void> {
  for (const [i, f] of frames.entries()) {
    while (t.queued >= 25) await new Promise((r) => setTimeout(r, 5));
    before?.(i);
    t.write(f.data, f.key, pts(i));
  }
}

const keyIndexes = (out: Out[]): number[] => out.map((f, i) => (f.key ? i : -1)).filter((i) => i >= 0);

describe('H264Encoder (VP8 → H.264 in-process)', () => {
  it('gives one H.264 frame per VP8 frame at the same pts, a keyframe every 2 s, decodable, no process', async () => {
    const { t, out, exits } = encoder();
    expect(t.pid).toBeUndefined();
    const frames = vp8Frames(125, 250);
    await feed(t, frames, (i) => 5000 + i * 40 + (i >= 100 ? 20_000 : 0)); // a 20 s hold before frame 100
    expect(t.dropped).toBe(0);
    await t.close();
    expect(exits).toEqual([false]);
    expect(out).toHaveLength(125);
    out.forEach((f, i) => expect(f.pts).toBeCloseTo(5000 + i * 40 + (i >= 100 ? 20_000 : 0), 0));
    expect(keyIndexes(out)).toEqual([0, 50, 100]);
    expect(out[0]!.nalus.map((n) => n[0]! & 0x1f).slice(0, 2)).toEqual([7, 8]);
    expect(probe(out)).toMatchObject({ codec_name: 'h264', width: 320, nb_read_frames: '125' });
  });

  it('skips input until the first keyframe', async () => {
    const { t, out } = encoder();
    const frames = vp8Frames(10, 5);
    frames.forEach((f, i) => t.write(f.data, f.key, i * 40));
    await t.close();
    expect(out[0]!.pts).toBe(0);
    expect(out).toHaveLength(10);
  });

  it('makes a keyframe on request (a new RTMP target), with SPS and PPS in front', async () => {
    const { t, out } = encoder();
    const frames = vp8Frames(40, 250);
    frames.forEach((f, i) => {
      if (i === 20) t.requestKeyframe();
      t.write(f.data, f.key, i * 40);
      // The request reaches the worker with the writes gathered beside it: sent before frame 20 is, it applies to it.
    });
    await t.close();
    expect(out).toHaveLength(40);
    const keys = keyIndexes(out);
    expect(keys[0]).toBe(0);
    expect(keys.slice(1)).toEqual([20]);
    expect(out[20]!.nalus.map((n) => n[0]! & 0x1f).slice(0, 2)).toEqual([7, 8]);
    expect(probe(out)).toMatchObject({ codec_name: 'h264', nb_read_frames: '40' });
  });

  it('counts and drops a garbage payload, then carries on from the next keyframe; the stream still decodes', async () => {
    const { t, out, exits } = encoder();
    const frames = vp8Frames(30, 10);
    frames.forEach((f, i) => {
      // Frame 12 (an inter frame) replaced by bytes no VP8 decoder takes.
      if (i === 12) t.write(Buffer.alloc(300, 0xff), false, i * 40);
      else t.write(f.data, f.key, i * 40);
    });
    await t.close();
    expect(exits).toEqual([false]);
    expect(t.decodeErrors).toBe(1);
    // 12 refused, 13–19 skipped until the keyframe at 20.
    expect(out).toHaveLength(30 - 8);
    expect(probe(out)).toMatchObject({ codec_name: 'h264', nb_read_frames: String(30 - 8) });
  });
});

describe('H264Encoder (H.264 → H.264 in-process: transcodeVideo)', () => {
  it('gives one frame per access unit at the same pts, a keyframe every 2 s though the input has one every 10 s, and one on request', async () => {
    const { t, out, exits } = encoder({ input: 'H264' });
    const frames = h264Frames(300, 250); // 1280×720, IDRs at frames 0 and 250 only
    expect(frames.filter((f) => f.key)).toHaveLength(2);
    await feed(t, frames, (i) => 1000 + i * 40, (i) => {
      if (i === 70) t.requestKeyframe();
    });
    expect(t.dropped).toBe(0);
    await t.close();
    expect(exits).toEqual([false]);
    expect(t.decodeErrors).toBe(0);
    expect(out).toHaveLength(300);
    out.forEach((f, i) => expect(f.pts).toBe(1000 + i * 40));
    // Every 50 frames (2 s) from the first and from the one asked for; the input's own IDR at 250 is not copied.
    expect(keyIndexes(out)).toEqual([0, 50, 70, 120, 170, 220, 270]);
    for (const i of [0, 70]) expect(out[i]!.nalus.map((n) => n[0]! & 0x1f).slice(0, 2)).toEqual([7, 8]);
    expect(probe(out)).toMatchObject({ codec_name: 'h264', width: 1280, height: 720, nb_read_frames: '300' });
  });

  it('scales a picture over the cap down to fit (aspect kept), never one under it up; full-range input comes out yuv420p', async () => {
    const cap = { input: 'H264', maxWidth: 640, maxHeight: 360 } as const;
    const big = encoder(cap);
    await feed(big.t, h264Frames(30, 250), (i) => i * 40);
    await big.t.close();
    expect(big.out).toHaveLength(30);
    expect(probe(big.out)).toMatchObject({ width: 640, height: 360, pix_fmt: 'yuv420p', nb_read_frames: '30' });

    const small = encoder(cap);
    await feed(small.t, h264Frames(30, 250, '320x240', 'yuvj420p'), (i) => i * 40);
    await small.t.close();
    // Converted through the scaler, not dropped as an unsupported format.
    expect(small.out).toHaveLength(30);
    expect(probe(small.out)).toMatchObject({ width: 320, height: 240, pix_fmt: 'yuv420p', nb_read_frames: '30' });

    expect(() => new H264Encoder({ preset: 'ultrafast', keyframeIntervalS: 2, log: silentLogger(), maxWidth: -640 })).toThrow(RangeError);
  });

  it('fits sizes inside the cap: aspect kept, even sides, never up, 0 for no cap', () => {
    expect(fitSize(1920, 1080, 640, 360)).toEqual({ width: 640, height: 360 });
    expect(fitSize(1280, 720, 640, 0)).toEqual({ width: 640, height: 360 });
    expect(fitSize(1280, 720, 0, 0)).toEqual({ width: 1280, height: 720 });
    expect(fitSize(720, 1280, 640, 360)).toEqual({ width: 202, height: 360 }); // portrait
    expect(fitSize(320, 240, 640, 360)).toEqual({ width: 320, height: 240 });
    expect(fitSize(1280, 720, 641, 481)).toEqual({ width: 640, height: 360 }); // odd caps
    expect(fitSize(321, 241)).toEqual({ width: 320, height: 240 }); // odd sides made even
  });

  it('counts and drops garbage access units, then carries on from the next keyframe; the stream still decodes', async () => {
    const { t, out, exits } = encoder({ input: 'H264' });
    const frames = h264Frames(40, 10, '320x240');
    const garbage = new Map([
      [12, Buffer.alloc(300, 0xff)], // no start code at all
      [25, Buffer.concat([Buffer.from([0, 0, 0, 1, 0x41]), Buffer.alloc(300, 0xff)])], // a "slice" of junk
    ]);
    frames.forEach((f, i) => t.write(garbage.get(i) ?? f.data, garbage.has(i) ? false : f.key, i * 40));
    await t.close();
    expect(exits).toEqual([false]);
    expect(t.decodeErrors).toBe(2);
    // 12 refused, 13–19 skipped until the IDR at 20; 25 refused, 26–29 skipped until 30.
    expect(out).toHaveLength(40 - 8 - 5);
    expect(probe(out)).toMatchObject({ codec_name: 'h264', nb_read_frames: String(40 - 8 - 5) });
  });
});

describe('MediaOutput re-encoding VP8', () => {
  it('meets a target\'s keyframe request with an IDR from its encoder at once; passed-through H.264 cannot', async () => {
    const tags: FlvTag[] = [];
    const sink: FlvSink = { setHeaders: (_h: FlvHeaders) => undefined, write: (t) => void tags.push(t) };
    const out = new MediaOutput({
      log: silentLogger(), audioCodec: null, hasVideo: true, videoCodec: 'VP8', audioOutput: 'copy',
      video: { preset: 'ultrafast', keyframeIntervalS: 60 }, transcode: { audioBitrate: 64000, audioSampleRate: 48000 },
    });
    out.addTarget(sink);
    const frames = vp8Frames(30, 250);
    const t0 = mediaClockNow();
    for (const [i, f] of frames.entries()) {
      if (i === 15) expect(out.requestKeyframe()).toBe(true);
      out.onFrame({ kind: 'video', codec: 'VP8', ptsMs: t0 + i * 40, key: f.key, nalus: [f.data] });
      await new Promise((r) => setTimeout(r, 40)); // real time: the output interleaves with generated silence
    }
    await out.close();
    const video = tags.filter((t) => t.type === 'video');
    expect(video.length).toBeGreaterThanOrEqual(28);
    // Keyframes: the first, and the one asked for (a 60 s cadence would give no other).
    expect(video.filter((t) => t.key).map((t) => t.timestamp)).toEqual([0, 15 * 40]);

    const h264 = new MediaOutput({
      log: silentLogger(), audioCodec: null, hasVideo: true, videoCodec: 'H264', audioOutput: 'copy', transcode: { audioBitrate: 64000, audioSampleRate: 48000 },
    });
    expect(h264.requestKeyframe()).toBe(false);
    await h264.close();
  });
});
