import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import {
  encodeG711, decodeG711, linearToAlaw, linearToUlaw, alawToLinear, ulawToLinear, ALAW_SILENCE, ULAW_SILENCE,
} from '../../../src/transcode/g711.js';

function ffmpeg(args: string[]): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { maxBuffer: 16 * 1024 * 1024 });
}

describe('G.711', () => {
  it('encodes exactly like ffmpeg (A-law and µ-law, full-scale sweep)', () => {
    const src = ['-f', 'lavfi', '-i', "aevalsrc='0.99*sin(2*PI*(100+2000*t)*t)':s=8000:d=1"];
    const pcm = ffmpeg([...src, '-f', 's16le', '-']);
    // Encode the very same samples: ffmpeg reads them back from stdin.
    const raw = ['-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0'];
    const alaw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...raw, '-f', 'alaw', '-'], { input: pcm });
    const ulaw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...raw, '-f', 'mulaw', '-'], { input: pcm });
    const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
    expect(encodeG711(samples, 'PCMA').equals(alaw)).toBe(true);
    expect(encodeG711(samples, 'PCMU').equals(ulaw)).toBe(true);
  });

  it('has the silence codes and decodes within one quantisation step', () => {
    expect(linearToAlaw(0)).toBe(ALAW_SILENCE);
    expect(linearToUlaw(0)).toBe(ULAW_SILENCE);
    fc.assert(fc.property(fc.integer({ min: -32768, max: 32767 }), (x) => {
      expect(Math.abs(alawToLinear(linearToAlaw(x)) - x)).toBeLessThanOrEqual(Math.max(16, Math.abs(x) / 16));
      expect(Math.abs(ulawToLinear(linearToUlaw(x)) - x)).toBeLessThanOrEqual(Math.max(8, Math.abs(x) / 8));
    }));
    // every code decodes to a value that re-encodes to itself
    for (let c = 0; c < 256; c++) {
      expect(linearToAlaw(alawToLinear(c))).toBe(c);
      if (c !== 0x7f) expect(linearToUlaw(ulawToLinear(c))).toBe(c); // 0x7f and 0xff are both zero
    }
    expect(decodeG711(Buffer.of(0xd5, 0xff), 'PCMA').length).toBe(2);
  });
});
