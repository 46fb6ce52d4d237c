/**
 * Property tests of the AMF0 decoder (AMF0 spec §2) and the command parser
 * built on it (RTMP spec §7.1.1): what a server sends decodes to values or
 * throws ParseError — never another exception, whatever the bytes.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { AMF0_MARKER, decodeAmf0, decodeAmf0Value, encodeAmf0, type Amf0Value } from '../../../src/pipeline/amf0.js';
import { parseCommand, statusInfo } from '../../../src/rtmp/messages.js';

const RUNS = 2000;

function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

const key = fc.oneof(fc.constantFrom('code', 'level', 'description', '__proto__', 'constructor', ''), fc.string({ maxLength: 8 }));
const { value } = fc.letrec<{ value: Amf0Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.string({ maxLength: 12 }),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((kv) => {
      const o: Record<string, Amf0Value> = {};
      for (const [k, v] of kv) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((kv) => new Map(kv)),
  ),
}));

const encoded = fc.array(value, { minLength: 1, maxLength: 4 }).map((vs) => encodeAmf0(...vs));

/** Bytes built from markers, lengths and payload bytes: reaches nested and truncated structures random bytes rarely do. */
const markerSoup = fc.array(fc.oneof(
  fc.constantFrom(...Object.values(AMF0_MARKER)).map((m) => Buffer.of(m)),
  fc.nat(0xffff).map((n) => Buffer.of(n >> 8, n & 0xff)),
  fc.constantFrom(Buffer.of(0, 0, 9), Buffer.of(0xff, 0xff, 0xff, 0xff), Buffer.of(0, 0, 0, 3)),
  fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)),
), { maxLength: 24 }).map((bs) => Buffer.concat(bs));

const mutated = fc.tuple(encoded, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.option(fc.nat()))
  .map(([b, edits, cut]) => {
    const m = Buffer.from(b);
    for (const [i, v] of edits) m[i % m.length] = v;
    return cut === null ? m : m.subarray(0, cut % (m.length + 1));
  });

function check(b: Buffer): void {
  const r = parsesOrParseError(() => decodeAmf0(b));
  if (!(r instanceof ParseError)) {
    // Each decoded value took at least one byte.
    expect(r.length).toBeLessThanOrEqual(b.length);
    // What decodes re-encodes (no value the encoder would not take).
    encodeAmf0(...r);
  }
  parsesOrParseError(() => decodeAmf0Value(b));
  const cmd = parsesOrParseError(() => parseCommand(b));
  if (!(cmd instanceof ParseError)) statusInfo(cmd);
}

describe('AMF0 decoder properties', () => {
  it('decode ∘ encode is the identity on generated values', () => {
    fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (vs) => {
      const b = encodeAmf0(...vs);
      expect(encodeAmf0(...decodeAmf0(b)).equals(b)).toBe(true);
    }), { numRuns: 500 });
  });

  it('random bytes: values or ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(Buffer.from(b))), { numRuns: RUNS });
  });

  it('marker soup: values or ParseError', () => {
    fc.assert(fc.property(markerSoup, check), { numRuns: RUNS });
  });

  it('mutated and truncated encodings: values or ParseError', () => {
    fc.assert(fc.property(mutated, check), { numRuns: RUNS });
  });

  it('nesting past the depth limit is ParseError, not a stack overflow', () => {
    for (const open of [Buffer.of(AMF0_MARKER.strictArray, 0, 0, 0, 1), Buffer.of(AMF0_MARKER.object, 0, 1, 0x61)]) {
      expect(() => decodeAmf0(Buffer.concat(Array.from({ length: 100_000 }, () => open)))).toThrow(ParseError);
    }
  });
});
