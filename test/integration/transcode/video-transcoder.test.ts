import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { VideoTranscoder } from '../../../src/transcode/video-transcoder.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { vp8Frames } from './vp8-frames.js';

describe('VideoTranscoder (VP8 → H.264)', () => {
  it('gives one H.264 frame per VP8 frame at the same pts, a keyframe every 2 s, decodable, and exits on close', async () => {
    const t = new VideoTranscoder({ ffmpegPath: 'ffmpeg', inputCodec: 'VP8', preset: 'ultrafast', keyframeIntervalS: 2, log: silentLogger() });
    const out: { nalus: Buffer[]; key: boolean; pts: number }[] = [];
    const exits: boolean[] = [];
    t.on('frame', (nalus, key, pts) => out.push({ nalus, key, pts }));
    t.on('exit', (_c, _s, crashed) => exits.push(crashed));
    t.start();
    const frames = vp8Frames(125, 250);
    frames.forEach((f, i) => t.write(f.data, f.key, 5000 + i * 40 + (i >= 100 ? 20_000 : 0))); // a 20 s hold before frame 100
    await t.close();
    expect(exits).toEqual([false]);
    expect(out).toHaveLength(125);
    out.forEach((f, i) => expect(f.pts).toBeCloseTo(5000 + i * 40 + (i >= 100 ? 20_000 : 0), 0));
    expect(out.map((f, i) => (f.key ? i : -1)).filter((i) => i >= 0)).toEqual([0, 50, 100]);
    expect(out[0]!.nalus.map((n) => n[0]! & 0x1f).slice(0, 2)).toEqual([7, 8]);
    const annexB = Buffer.concat(out.flatMap((f) => f.nalus.flatMap((n) => [Buffer.from([0, 0, 0, 1]), n])));
    const probe = execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', '-f', 'h264', '-'], { input: annexB, encoding: 'utf8' });
    const s = (JSON.parse(probe) as { streams: { codec_name: string; width: number; nb_read_frames: string }[] }).streams[0]!;
    expect(s).toMatchObject({ codec_name: 'h264', width: 320, nb_read_frames: '125' });
  });

  it('skips input until the first keyframe', async () => {
    const t = new VideoTranscoder({ ffmpegPath: 'ffmpeg', inputCodec: 'VP8', preset: 'ultrafast', keyframeIntervalS: 2, log: silentLogger() });
    const out: number[] = [];
    t.on('frame', (_n, _k, pts) => out.push(pts));
    t.start();
    const frames = vp8Frames(10, 5);
    frames.forEach((f, i) => t.write(f.data, f.key, i * 40));
    await t.close();
    expect(out[0]).toBe(0);
    expect(out).toHaveLength(10);
  });
});
