/**
 * Property tests of the payload receivers fed hostile RTP payloads: the
 * H.264 (RFC 6184) and VP8 (RFC 7741) depacketizers and the telephone-event
 * receiver (RFC 4733). Whatever arrives, they emit well-formed frames/digits
 * or throw ParseError — never another exception.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { H264Depacketizer } from '../../../src/rtp/h264-depacketizer.js';
import { Vp8Depacketizer, parseVp8Descriptor, vp8KeyframeSize } from '../../../src/rtp/vp8-depacketizer.js';
import { DtmfReceiver, decodeTelephoneEvent, encodeTelephoneEvent } from '../../../src/rtp/dtmf.js';

const RUNS = 2000;

function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

/** One received packet: payload, timestamp (few distinct values so frames span packets), marker, loss before it. */
const packet = (payload: fc.Arbitrary<Uint8Array>): fc.Arbitrary<[Buffer, number, boolean, number]> =>
  fc.tuple(payload, fc.nat(3), fc.boolean(), fc.oneof(fc.constant(0), fc.constant(0), fc.nat(3)))
    .map(([p, ts, m, gap]) => [Buffer.from(p), ts * 3000, m, gap]);

/** H.264 payloads biased to the interesting NAL types: single (1..23), STAP-A (24), FU-A (28), others. */
const h264Payload = fc.tuple(
  fc.oneof(fc.constantFrom(1, 5, 7, 8, 24, 28, 25, 29, 0, 31), fc.nat(31)),
  fc.nat(7),
  fc.uint8Array({ maxLength: 40 }),
).map(([type, nri, rest]) => Uint8Array.from([(nri << 5) | type, ...rest]));
/** Truncations and edits of valid STAP-A and FU-A payloads. */
const h264Damaged = fc.tuple(
  fc.constantFrom(
    Buffer.from('18000267420003680000', 'hex'), // STAP-A: a 2-byte and a 3-byte NAL unit
    Buffer.from('1800026742000268ce', 'hex'), // STAP-A: SPS, PPS
    Buffer.from('7c85aabbcc', 'hex'), // FU-A start of an IDR
    Buffer.from('7c05ddee', 'hex'), // FU-A middle
    Buffer.from('7c45ff', 'hex'), // FU-A end
  ),
  fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 3 }),
  fc.option(fc.nat()),
).map(([b, edits, cut]) => {
  const m = Buffer.from(b);
  for (const [i, v] of edits) m[i % m.length] = v;
  return cut === null ? m : m.subarray(0, cut % (m.length + 1));
});

/** VP8 payloads: descriptor flags biased to the extended forms (X, I, M, L, T/K), then data. */
const vp8Payload = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.uint8Array({ maxLength: 24 }))
  .map(([b0, x, pid, rest]) => Uint8Array.from([b0, x, pid, ...rest].slice(0, 1 + ((b0 + x + pid + rest.length) % (rest.length + 4)))));

describe('H264Depacketizer on hostile payloads', () => {
  it.each([
    ['random payloads', fc.uint8Array({ maxLength: 48 })],
    ['NAL-type-biased payloads', h264Payload],
    ['damaged STAP-A / FU-A payloads', h264Damaged.map((b) => Uint8Array.from(b))],
  ])('%s: only whole frames of non-empty NAL units come out, nothing is thrown', (_name, payload) => {
    fc.assert(fc.property(fc.array(packet(payload as fc.Arbitrary<Uint8Array>), { maxLength: 30 }), (pkts) => {
      const frames: Buffer[][] = [];
      const d = new H264Depacketizer({ frame: (nalus) => frames.push(nalus), keyframeNeeded: () => undefined });
      for (const [p, ts, m, gap] of pkts) d.push(p, ts, m, gap);
      d.flush();
      for (const f of frames) {
        expect(f.length).toBeGreaterThan(0);
        for (const n of f) expect(n.length).toBeGreaterThan(0);
      }
      expect(d.counters.frames).toBe(frames.length);
    }), { numRuns: RUNS });
  });
});

describe('Vp8Depacketizer on hostile payloads', () => {
  it('parseVp8Descriptor: a header inside the payload or ParseError', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 8 }), vp8Payload), (bytes) => {
      const r = parsesOrParseError(() => parseVp8Descriptor(Buffer.from(bytes)));
      if (!(r instanceof ParseError)) expect(r.headerLength).toBeLessThan(bytes.length);
    }), { numRuns: RUNS });
  });

  it('vp8KeyframeSize never throws on any frame', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 16 }), (bytes) => {
      const r = vp8KeyframeSize(Buffer.from(bytes));
      if (r !== null) expect(r.width).toBeLessThan(0x4000);
    }), { numRuns: RUNS });
  });

  it.each([
    ['random payloads', fc.uint8Array({ maxLength: 40 })],
    ['descriptor-biased payloads', vp8Payload],
  ])('%s: only non-empty frames come out, nothing is thrown', (_name, payload) => {
    fc.assert(fc.property(fc.array(packet(payload), { maxLength: 30 }), (pkts) => {
      const frames: Buffer[] = [];
      const d = new Vp8Depacketizer({ frame: (f) => frames.push(f), keyframeNeeded: () => undefined });
      for (const [p, ts, m, gap] of pkts) d.push(p, ts, m, gap);
      d.flush();
      for (const f of frames) expect(f.length).toBeGreaterThan(0);
      expect(d.counters.frames).toBe(frames.length);
    }), { numRuns: RUNS });
  });
});

describe('DtmfReceiver on hostile payloads', () => {
  const event = fc.oneof(
    fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    fc.record({ event: fc.nat(255), end: fc.boolean(), volume: fc.nat(63), duration: fc.nat(0xffff) }).map(encodeTelephoneEvent),
  );

  it('decodeTelephoneEvent: an event or ParseError', () => {
    fc.assert(fc.property(event, (p) => {
      const r = parsesOrParseError(() => decodeTelephoneEvent(p));
      if (!(r instanceof ParseError)) expect(r.volume).toBeLessThan(64);
    }), { numRuns: RUNS });
  });

  it('reports only DTMF digits with a finite duration; short payloads are ParseError', () => {
    fc.assert(fc.property(fc.array(fc.tuple(event, fc.nat(4)), { maxLength: 30 }), fc.constantFrom(8000, 48000), (pkts, rate) => {
      const digits: [string, number][] = [];
      const r = new DtmfReceiver(rate, (d, ms) => digits.push([d, ms]));
      for (const [p, ts] of pkts) parsesOrParseError(() => r.push(p, ts * 160));
      for (const [d, ms] of digits) {
        expect(d).toMatch(/^[0-9*#A-D]$/);
        expect(Number.isFinite(ms) && ms >= 0).toBe(true);
      }
    }), { numRuns: RUNS });
  });
});
