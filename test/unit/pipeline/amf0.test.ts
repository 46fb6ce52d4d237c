import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { encodeAmf0, decodeAmf0, decodeAmf0Value, type Amf0Value } from '../../../src/pipeline/amf0.js';
import { ParseError } from '../../../src/shared/errors.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('AMF0', () => {
  it('encodes each type byte-exactly', () => {
    expect(hex(encodeAmf0(1))).toBe('003ff0000000000000');
    expect(hex(encodeAmf0(true, false))).toBe('01010100');
    expect(hex(encodeAmf0('ab'))).toBe('0200026162');
    expect(hex(encodeAmf0(null, undefined))).toBe('0506');
    expect(hex(encodeAmf0({ a: 1 }))).toBe('030001610' + '03ff0000000000000' + '000009');
    expect(hex(encodeAmf0(new Map([['w', 2]])))).toBe('0800000001' + '000177' + '004000000000000000' + '000009');
    expect(hex(encodeAmf0(['x', 0]))).toBe('0a00000002' + '02000178' + '000000000000000000');
    const long = 'z'.repeat(70000);
    const enc = encodeAmf0(long);
    expect(enc[0]).toBe(0x0c);
    expect(enc.readUInt32BE(1)).toBe(70000);
  });

  it('decodes a real connect command (as FFmpeg sends it) and re-encodes it byte-exactly', () => {
    const bytes = encodeAmf0('connect', 1, {
      app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)',
      tcUrl: 'rtmp://127.0.0.1:1935/live',
    });
    const values = decodeAmf0(bytes);
    expect(values[0]).toBe('connect');
    expect(values[1]).toBe(1);
    expect(values[2]).toEqual({ app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)', tcUrl: 'rtmp://127.0.0.1:1935/live' });
    expect(encodeAmf0(...values).equals(bytes)).toBe(true);
  });

  it('round-trips nested values, ECMA arrays and long strings byte-exactly', () => {
    const v: Amf0Value[] = [
      '@setDataFrame', 'onMetaData',
      new Map<string, Amf0Value>([['width', 320], ['stereo', false], ['encoder', 'gw'], ['nested', { a: [1, null, undefined] }]]),
      'y'.repeat(65536),
    ];
    const bytes = encodeAmf0(...v);
    const back = decodeAmf0(bytes);
    expect(back[2]).toBeInstanceOf(Map);
    expect(encodeAmf0(...back).equals(bytes)).toBe(true);
  });

  it('round-trips arbitrary values (property)', () => {
    const key = fc.string({ maxLength: 8 }).filter((k) => k.length > 0);
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.double({ noNaN: true }),
        fc.boolean(),
        fc.string(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      ),
    }));
    fc.assert(fc.property(fc.array(value, { maxLength: 4 }), (vals) => {
      const bytes = encodeAmf0(...(vals as Amf0Value[]));
      expect(encodeAmf0(...decodeAmf0(bytes)).equals(bytes)).toBe(true);
    }));
  });

  it('keeps a "__proto__" key as a plain property', () => {
    const bytes = Buffer.from('03' + '0009' + Buffer.from('__proto__').toString('hex') + '0140' + '000009', 'hex');
    const v = decodeAmf0Value(bytes).value as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
  });

  it('throws ParseError on truncated or unknown input', () => {
    expect(() => decodeAmf0(Buffer.from('00 3f f0'.replace(/ /g, ''), 'hex'))).toThrow(ParseError);
    expect(() => decodeAmf0(Buffer.from('020005616263', 'hex'))).toThrow(ParseError);
    expect(() => decodeAmf0(Buffer.from('0300016100', 'hex'))).toThrow(ParseError);
    expect(() => decodeAmf0(Buffer.from('0a7fffffff', 'hex'))).toThrow(ParseError);
    expect(() => decodeAmf0(Buffer.from('11', 'hex'))).toThrow(ParseError);
  });

  it('never throws anything but ParseError on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (arr) => {
      try {
        decodeAmf0(Buffer.from(arr));
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
      }
    }));
  });
});
