import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, g711Frame, onMetaData, isSequenceHeader, type FlvTag,
} from '../../../src/pipeline/flv.js';
import { flvFileHeader, serializeFlvTag, writeFlv, FlvDemuxer } from '../../../src/pipeline/flv-file.js';
import { decodeAmf0 } from '../../../src/pipeline/amf0.js';
import { ParseError } from '../../../src/shared/errors.js';

// A baseline-profile SPS/PPS pair: only the record layout is under test.
const SPS = Buffer.from('6742c00dd9050fd80880000003008000001e478a1520', 'hex');
const PPS = Buffer.from('68cb83cb20', 'hex');

describe('FLV tag builders', () => {
  it('builds the AVCDecoderConfigurationRecord', () => {
    const t = avcSequenceHeader(SPS, PPS);
    expect(t.type).toBe('video');
    expect(t.key).toBe(true);
    expect(t.data.toString('hex')).toBe(
      '1700000000' + '01' + '42c00d' + 'ff' + 'e1' + '0016' + SPS.toString('hex') + '01' + '0005' + PPS.toString('hex'),
    );
    expect(isSequenceHeader(t)).toBe(true);
  });

  it('frames NAL units with 4-byte lengths, keyframe flag and signed CTS', () => {
    const k = avcFrame([Buffer.from([0x65, 1, 2]), Buffer.from([0x06])], true, 40, 1234);
    expect(k.data.toString('hex')).toBe('1701000028' + '00000003650102' + '0000000106');
    expect(k.timestamp).toBe(1234);
    const p = avcFrame([Buffer.from([0x41])], false, -2);
    expect(p.data.toString('hex')).toBe('2701fffffe' + '0000000141');
    expect(p.key).toBe(false);
    expect(isSequenceHeader(p)).toBe(false);
  });

  it('builds AAC and G.711 audio tags', () => {
    expect(aacSequenceHeader(Buffer.from([0x11, 0x88])).data.toString('hex')).toBe('af001188');
    expect(isSequenceHeader(aacSequenceHeader(Buffer.from([0x11, 0x88])))).toBe(true);
    const f = aacFrame(Buffer.from([1, 2, 3]), 21);
    expect(f.data.toString('hex')).toBe('af01010203');
    expect(f.timestamp).toBe(21);
    expect(isSequenceHeader(f)).toBe(false);
    expect(g711Frame(Buffer.from([0xd5]), 'PCMA').data.toString('hex')).toBe('72d5');
    expect(g711Frame(Buffer.from([0xff]), 'PCMU').data.toString('hex')).toBe('82ff');
  });

  it('builds @setDataFrame onMetaData with an ECMA array', () => {
    const t = onMetaData({ width: 320, height: 240, framerate: 25, videocodecid: 7, audiocodecid: 10, audiosamplerate: 48000, audiochannels: 1, stereo: false, encoder: 'gw' });
    expect(t.type).toBe('script');
    const v = decodeAmf0(t.data);
    expect(v[0]).toBe('@setDataFrame');
    expect(v[1]).toBe('onMetaData');
    const m = v[2] as Map<string, unknown>;
    expect(m).toBeInstanceOf(Map);
    expect(Object.fromEntries(m)).toEqual({ width: 320, height: 240, framerate: 25, videocodecid: 7, audiocodecid: 10, audiosamplerate: 48000, audiochannels: 1, stereo: false, encoder: 'gw' });
    expect(decodeAmf0(onMetaData({ width: 1 }, { setDataFrame: false }).data)[0]).toBe('onMetaData');
  });
});

describe('FLV file framing', () => {
  it('writes the header and tags with PreviousTagSize', () => {
    expect(flvFileHeader(true, true).toString('hex')).toBe('464c5601050000000900000000');
    expect(flvFileHeader(false, true)[4]).toBe(1);
    const b = serializeFlvTag({ type: 'audio', timestamp: 0x12345678, data: Buffer.from([0xaf, 1]), key: true });
    expect(b.toString('hex')).toBe('08' + '000002' + '345678' + '12' + '000000' + 'af01' + '0000000d');
  });

  it('demuxes what it writes, in any slicing (property)', () => {
    const tagArb = fc.record({
      type: fc.constantFrom('audio', 'video', 'script') as fc.Arbitrary<FlvTag['type']>,
      timestamp: fc.nat(),
      data: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)),
      key: fc.boolean(),
    }).map((t): FlvTag => ({
      ...t,
      // key is derived from the bytes when demuxing
      key: t.type === 'video' ? (t.data[0] as number) >> 4 === 1 : t.type === 'audio',
    }));
    fc.assert(fc.property(fc.array(tagArb, { maxLength: 8 }), fc.array(fc.nat({ max: 50 }), { maxLength: 10 }), (tags, cuts) => {
      const file = writeFlv(tags);
      const d = new FlvDemuxer();
      const out: FlvTag[] = [];
      let off = 0;
      for (const c of cuts) {
        out.push(...d.push(file.subarray(off, Math.min(file.length, off + c))));
        off = Math.min(file.length, off + c);
      }
      out.push(...d.push(file.subarray(off)));
      expect(out).toEqual(tags);
      expect(writeFlv(out).equals(file)).toBe(true);
    }));
  });

  it('rejects a bad signature or tag type', () => {
    expect(() => new FlvDemuxer().push(Buffer.from('464c5801050000000900000000', 'hex'))).toThrow(ParseError);
    const bad = Buffer.concat([flvFileHeader(true, true), Buffer.from('07000000000000000000000000000b', 'hex')]);
    expect(() => new FlvDemuxer().push(bad)).toThrow(ParseError);
  });
});
