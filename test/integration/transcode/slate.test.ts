import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeG722Silence, makeSlateH264, OPUS_SILENCE_20MS } from '../../../src/transcode/slate.js';
import { MatroskaWriter } from '../../../src/transcode/matroska.js';
import { audioTrackFor } from '../../helpers/matroska-audio.js';

/** Decodes a Matroska stream of `codec` packets to s16 mono at 16 kHz and returns the peak sample. */
function peakOf(codec: 'OPUS' | 'G722', packet: Buffer, n: number): { peak: number; seconds: number } {
  const w = new MatroskaWriter(audioTrackFor(codec, codec === 'OPUS' ? 48000 : 8000));
  const mkv = Buffer.concat([w.header(), ...Array.from({ length: n }, (_, i) => w.block(packet, i * 20, true))]);
  const pcm = execFileSync('ffmpeg', ['-v', 'error', '-f', 'matroska', '-i', 'pipe:0', '-ar', '16000', '-ac', '1', '-f', 's16le', '-'], { input: mkv });
  let peak = 0;
  for (let i = 0; i + 1 < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
  return { peak, seconds: pcm.length / 2 / 16000 };
}

describe('makeSlateH264', () => {
  it('makes a decodable 2 s baseline GOP at 10 fps with an AUD per frame, cached per option set', async () => {
    const a = await makeSlateH264({ ffmpegPath: 'ffmpeg', fps: 10 });
    expect(await makeSlateH264({ ffmpegPath: 'ffmpeg', fps: 10 })).toBe(a);
    expect(a.length).toBeLessThan(4000);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'slate-')), 'slate.h264');
    writeFileSync(file, a);
    const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_frames', '-show_streams', '-of', 'json', file], { encoding: 'utf8' })) as {
      frames: { key_frame: number; pict_type: string }[]; streams: { profile: string; width: number; height: number }[];
    };
    expect(out.streams[0]).toMatchObject({ profile: 'Constrained Baseline', width: 320, height: 240 });
    expect(out.frames).toHaveLength(20);
    expect(out.frames.map((f) => f.key_frame)).toEqual([1, ...new Array<number>(19).fill(0)]);
  });

  it('rejects (and does not cache) when ffmpeg fails', async () => {
    await expect(makeSlateH264({ ffmpegPath: 'ffmpeg', imagePath: '/nonexistent.png' })).rejects.toThrow(/ffmpeg exited/);
  });

  it('G.722 and Opus silence packets decode to 20 ms of silence each', async () => {
    const g722 = await makeG722Silence('ffmpeg');
    expect(g722).toHaveLength(160);
    const a = peakOf('G722', g722, 50);
    expect(a.seconds).toBeCloseTo(1, 1);
    expect(a.peak).toBeLessThan(200);
    const o = peakOf('OPUS', OPUS_SILENCE_20MS, 50);
    expect(o.seconds).toBeGreaterThan(0.9);
    expect(o.peak).toBeLessThan(50);
  });
});
