import { describe, it, expect } from 'vitest';
import { parseSps } from '../../../src/pipeline/h264-sps.js';
import { ParseError } from '../../../src/shared/errors.js';

// SPS NAL units written by libx264 (ffmpeg -f lavfi -i testsrc2 -c:v libx264 -f h264).
const BASELINE_320x240 = Buffer.from('6742c00dd90141fb011000000300100000030320f142a480', 'hex');
const HIGH_1280x720 = Buffer.from('6764001facd9405005bb011000000300100000030320f1831960', 'hex');

describe('parseSps', () => {
  it('reads a constrained-baseline 320x240 SPS', () => {
    expect(parseSps(BASELINE_320x240)).toEqual({ profileIdc: 66, levelIdc: 13, width: 320, height: 240 });
  });
  it('reads a High profile 1280x720 SPS with cropping (720 is not a multiple of 16)', () => {
    expect(parseSps(HIGH_1280x720)).toEqual({ profileIdc: 100, levelIdc: 31, width: 1280, height: 720 });
  });
  it('throws ParseError on a truncated SPS', () => {
    expect(() => parseSps(BASELINE_320x240.subarray(0, 5))).toThrow(ParseError);
  });
});
