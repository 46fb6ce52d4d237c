import { describe, it, expect } from 'vitest';
import { parseAdtsHeader, audioSpecificConfig, parseAudioSpecificConfig, splitAdts } from '../../../src/pipeline/aac.js';
import { ParseError } from '../../../src/shared/errors.js';

// The first ADTS header ffmpeg's AAC encoder wrote for 48 kHz mono at 64 kb/s: LC, no CRC, 265 bytes.
const ADTS = Buffer.from('fff14c40213ffc', 'hex');

describe('ADTS / AudioSpecificConfig', () => {
  it('parses an ADTS header', () => {
    expect(parseAdtsHeader(ADTS)).toEqual({ headerLength: 7, frameLength: 265, objectType: 2, sampleRateIndex: 3, sampleRate: 48000, channels: 1, rawDataBlocks: 1 });
    // a 10-byte frame: length field rewritten
    const frame = Buffer.concat([ADTS, Buffer.from([1, 2, 3])]);
    frame[3] = 0x40;
    frame[4] = 10 >> 3;
    frame[5] = ((10 & 7) << 5) | 0x1f;
    const parts = splitAdts(Buffer.concat([frame, frame]));
    expect(parts).toHaveLength(2);
    expect(parts[1]?.header.frameLength).toBe(10);
    expect(parts[1]?.raw.toString('hex')).toBe('010203');
  });

  it('builds and parses the 2-byte ASC', () => {
    expect(audioSpecificConfig({ objectType: 2, sampleRateIndex: 3, channels: 1 }).toString('hex')).toBe('1188');
    expect(audioSpecificConfig({ objectType: 2, sampleRateIndex: 4, channels: 2 }).toString('hex')).toBe('1210');
    expect(parseAudioSpecificConfig(Buffer.from('1188', 'hex'))).toEqual({ objectType: 2, sampleRateIndex: 3, sampleRate: 48000, channels: 1 });
  });

  it('rejects bad headers', () => {
    expect(() => parseAdtsHeader(Buffer.from('fff160', 'hex'))).toThrow(ParseError);
    expect(() => parseAdtsHeader(Buffer.from('00f14c40213ffc', 'hex'))).toThrow(ParseError);
    expect(() => parseAdtsHeader(Buffer.from('fff17c40213ffc', 'hex'))).toThrow(ParseError); // sampling index 15
    expect(() => parseAdtsHeader(Buffer.from('fff14c40001ffc', 'hex'))).toThrow(ParseError); // length 0
    expect(() => splitAdts(ADTS)).toThrow(ParseError); // truncated frame
  });
});
