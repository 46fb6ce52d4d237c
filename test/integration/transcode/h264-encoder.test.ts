/**
 * VP8 → H.264 in-process (h264-engine on a codec worker, through the
 * H264Encoder handle): what comes out is H.264 that ffprobe decodes, one
 * frame per VP8 frame at the same pts, keyframes every 2 s of input time and
 * at once on request; garbage is counted and dropped, never thrown.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { H264Encoder } from '../../../src/transcode/h264-encoder.js';
import { MediaOutput } from '../../../src/call/media-output.js';
import { mediaClockNow } from '../../../src/rtp/media-clock.js';
import type { FlvHeaders, FlvSink } from '../../../src/pipeline/fanout.js';
import type { FlvTag } from '../../../src/pipeline/flv.js';
import { splitAnnexB } from '../../../src/shared/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { vp8Frames } from './vp8-frames.js';

interface Out {
  nalus: Buffer[];
  key: boolean;
  pts: number;
}

function encoder(): { t: H264Encoder; out: Out[]; exits: boolean[] } {
  const t = new H264Encoder({ preset: 'ultrafast', keyframeIntervalS: 2, log: silentLogger() });
  const out: Out[] = [];
  const exits: boolean[] = [];
  t.on('frame', (raw, pts, key) => out.push({ nalus: splitAnnexB(raw), key, pts }));
  t.on('exit', (_c, _s, crashed) => exits.push(crashed));
  t.start();
  return { t, out, exits };
}

function probe(out: Out[]): { codec_name: string; width: number; nb_read_frames: string } {
  const annexB = Buffer.concat(out.flatMap((f) => f.nalus.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n])));
  const json = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', '-f', 'h264', '-'], { input: annexB, encoding: 'utf8' });
  return (JSON.parse(json) as { streams: { codec_name: string; width: number; nb_read_frames: string }[] }).streams[0]!;
}

/** Writes the frames as a far end would, never more than the encoder's queue holds (MAX_VIDEO_QUEUE drops beyond it). */
async function feed(t: H264Encoder, frames: { data: Buffer; key: boolean }[], pts: (i: number) => number): Promise<void> {
  for (const [i, f] of frames.entries()) {
    while (t.queued >= 25) await new Promise((r) => setTimeout(r, 5));
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
