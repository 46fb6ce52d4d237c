import { describe, expect, it } from 'vitest';
import { aacFrame, avcFrame, avcSequenceHeader, writeFlv } from '../../../src/pipeline/index.js';
import { ParseError } from '../../../src/shared/index.js';
import { FlvVideoReader } from '../../../src/transcode/index.js';
import { nal } from '../../helpers/h264-units.js';

const sps = nal(7, 12);
const pps = nal(8, 4);
const idr = nal(5, 300);
const slice = nal(1, 120);

describe('FlvVideoReader (ffmpeg FLV output → H.264 access units)', () => {
  const file = writeFlv([
    avcSequenceHeader(sps, pps, 0),
    aacFrame(Buffer.alloc(8, 1), 0),
    avcFrame([idr], true, 0, 0),
    avcFrame([slice, slice], false, 0, 40),
    avcFrame([idr], true, 0, 80),
  ]);

  it('puts the parameter sets before every keyframe and keeps the tag times, whatever the slicing', () => {
    for (const step of [1, 7, 64, file.length]) {
      const r = new FlvVideoReader();
      const frames = [];
      for (let o = 0; o < file.length; o += step) frames.push(...r.push(file.subarray(o, o + step)));
      expect(frames.map((f) => [f.key, f.ms, f.nalus.map((n) => n[0]! & 0x1f)])).toEqual([
        [true, 0, [7, 8, 5]],
        [false, 40, [1, 1]],
        [true, 80, [7, 8, 5]],
      ]);
      expect(frames[0]!.nalus[2]!.equals(idr)).toBe(true);
    }
  });

  it('refuses video that is not H.264 and a NAL unit running past its tag', () => {
    const vp6 = writeFlv([{ type: 'video', timestamp: 0, key: true, data: Buffer.of(0x14, 0, 0, 0, 0) }]);
    expect(() => new FlvVideoReader().push(vp6)).toThrow(ParseError);
    const cut = avcFrame([idr], true);
    cut.data.writeUInt32BE(9999, 5);
    expect(() => new FlvVideoReader().push(writeFlv([cut]))).toThrow(ParseError);
  });
});
