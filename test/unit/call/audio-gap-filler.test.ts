import { describe, it, expect } from 'vitest';
import { AudioGapFiller, AAC_SILENT_FRAME_MONO, AUDIO_GAP_MS } from '../../../src/call/audio-gap-filler.js';
import type { FlvTag } from '../../../src/pipeline/index.js';

describe('AudioGapFiller', () => {
  it('writes nothing before any media, nor while real audio flows', () => {
    const f = new AudioGapFiller({ codec: 'AAC', sampleRate: 48000 });
    expect(f.tick(5000, -1)).toEqual([]);
    for (let t = 0; t < 3000; t += 100) {
      f.onVideo(t, t);
      f.onRealAudio(t);
      expect(f.tick(t, t)).toEqual([]);
    }
    expect(f.filling).toBe(false);
  });

  it('video without audio: AAC silence after the gap, 1024 samples apart, trailing the newest video', () => {
    const f = new AudioGapFiller({ codec: 'AAC', sampleRate: 48000 });
    const tags: FlvTag[] = [];
    for (let t = 0; t <= 3000; t += 40) {
      f.onVideo(t, t);
      tags.push(...f.tick(t, tags.at(-1)?.timestamp ?? -1));
    }
    expect(f.filling).toBe(true);
    const first = tags[0]!;
    expect(first.timestamp).toBeGreaterThanOrEqual(AUDIO_GAP_MS - 50);
    expect(first.data.subarray(2)).toEqual(AAC_SILENT_FRAME_MONO);
    expect([...first.data.subarray(0, 2)]).toEqual([0xaf, 1]);
    // ~21.33 ms per frame, never ahead of the video, monotonic.
    expect(tags.at(-1)!.timestamp).toBeLessThanOrEqual(3000);
    expect(tags.length).toBeGreaterThan(85);
    for (let i = 1; i < tags.length; i++) {
      const d = tags[i]!.timestamp - tags[i - 1]!.timestamp;
      expect(d).toBeGreaterThanOrEqual(21);
      expect(d).toBeLessThanOrEqual(22);
    }
  });

  it('stops when real audio comes, and resumes after real audio stops for the gap, after the last audio written', () => {
    const f = new AudioGapFiller({ codec: 'PCMA' });
    let last = -1;
    for (let t = 0; t <= 2000; t += 20) {
      f.onVideo(t, t);
      for (const tag of f.tick(t, last)) last = tag.timestamp;
    }
    expect(f.filling).toBe(true);
    f.onRealAudio(2020);
    last = 2020;
    expect(f.filling).toBe(false);
    expect(f.tick(2500, last)).toEqual([]);
    const resumed: FlvTag[] = [];
    for (let t = 2040; t <= 3600; t += 20) {
      f.onVideo(t, t);
      resumed.push(...f.tick(t, last));
    }
    expect(resumed[0]!.timestamp).toBeGreaterThan(2020);
    expect(resumed[0]!.timestamp).toBeGreaterThanOrEqual(3000);
    // G.711 A-law silence: 160 bytes of 0xD5 every 20 ms, FLV sound format 7.
    expect(resumed[0]!.data.length).toBe(161);
    expect(resumed[0]!.data[0]! >> 4).toBe(7);
    expect(resumed[0]!.data[1]).toBe(0xd5);
  });

  it('without video, follows the clock with a lag', () => {
    const f = new AudioGapFiller({ codec: 'AAC', sampleRate: 44100 });
    f.onRealAudio(0);
    const tags = f.tick(2000, 0);
    expect(tags.length).toBeGreaterThan(0);
    expect(tags.at(-1)!.timestamp).toBeLessThanOrEqual(1700);
  });
});
