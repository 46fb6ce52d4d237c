import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeSlateH264 } from '../../../src/transcode/slate.js';

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
});
