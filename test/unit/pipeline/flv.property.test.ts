/**
 * Property tests of the FLV parsers (FLV spec E.2–E.4.3): the streaming
 * demuxer, the sequence-header test and the AVC/AAC sequence header parsers
 * that read FLV tag bodies. Random or damaged input gives tags or
 * ParseError — never another exception — in whatever slices it arrives.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { FlvDemuxer, flvFileHeader, writeFlv } from '../../../src/pipeline/flv-file.js';
import { aacFrame, aacSequenceHeader, avcFrame, avcSequenceHeader, g711Frame, isSequenceHeader, onMetaData, type FlvTag } from '../../../src/pipeline/flv.js';
import { parseAacSequenceHeader } from '../../../src/pipeline/hls-ts.js';
import { parseAvcSequenceHeader } from '../../../src/pipeline/flv-avc.js';

const RUNS = 2000;

function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

function slices(b: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, b.length]) {
    out.push(b.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Demuxes the slices; stops at the first ParseError (the stream cannot resynchronise). */
function demux(parts: readonly Buffer[]): FlvTag[] | ParseError {
  const d = new FlvDemuxer();
  const out: FlvTag[] = [];
  for (const p of parts) {
    const r = parsesOrParseError(() => d.push(p));
    if (r instanceof ParseError) return r;
    out.push(...r);
  }
  return out;
}

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const ts = fc.nat(0xffffffff);
const tag: fc.Arbitrary<FlvTag> = fc.oneof(
  fc.tuple(bytes(8), bytes(8), ts).map(([sps, pps, t]) => avcSequenceHeader(Buffer.concat([Buffer.of(0x67, 0x42, 0, 0x1f), sps]), Buffer.concat([Buffer.of(0x68), pps]), t)),
  fc.tuple(fc.array(bytes(40).map((b) => Buffer.concat([Buffer.of(0x41), b])), { minLength: 1, maxLength: 3 }), fc.boolean(), fc.integer({ min: -100, max: 100 }), ts)
    .map(([n, k, cts, t]) => avcFrame(n, k, cts, t)),
  fc.tuple(fc.constantFrom(Buffer.of(0x12, 0x10), Buffer.of(0x11, 0x90)), ts).map(([asc, t]) => aacSequenceHeader(asc, t)),
  fc.tuple(bytes(40), ts).map(([raw, t]) => aacFrame(raw, t)),
  fc.tuple(bytes(40), fc.constantFrom('PCMA' as const, 'PCMU' as const), ts).map(([d, law, t]) => g711Frame(d, law, t)),
  fc.constant(onMetaData({ width: 320, height: 240, videocodecid: 7, audiocodecid: 10 })),
);
const file = fc.array(tag, { maxLength: 8 }).map((tags) => ({ tags, bytes: writeFlv(tags) }));
const mutated = fc.tuple(file, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.option(fc.nat()))
  .map(([f, edits, cut]) => {
    const m = Buffer.from(f.bytes);
    for (const [i, v] of edits) m[i % m.length] = v;
    return cut === null ? m : m.subarray(0, cut % (m.length + 1));
  });
const cuts = fc.array(fc.nat(), { maxLength: 6 });

describe('FlvDemuxer properties', () => {
  it('a valid file in any slicing demuxes to the tags written', () => {
    fc.assert(fc.property(file, cuts, (f, cs) => {
      const got = demux(slices(f.bytes, cs));
      expect(got).not.toBeInstanceOf(ParseError);
      const norm = (t: FlvTag): unknown[] => [t.type, t.timestamp >>> 0, t.data.toString('hex')];
      expect((got as FlvTag[]).map(norm)).toEqual(f.tags.map(norm));
    }), { numRuns: 300 });
  });

  it('random bytes, bare or behind a valid header: tags or ParseError', () => {
    fc.assert(fc.property(fc.boolean(), bytes(300), cuts, (withHeader, b, cs) => {
      const input = withHeader ? Buffer.concat([flvFileHeader(true, true), b]) : b;
      const r = demux(slices(input, cs));
      if (!(r instanceof ParseError)) for (const t of r) expect(t.data.length).toBeLessThan(input.length);
    }), { numRuns: RUNS });
  });

  it('mutated and truncated valid files: tags or ParseError', () => {
    fc.assert(fc.property(mutated, cuts, (b, cs) => {
      demux(slices(b, cs));
    }), { numRuns: RUNS });
  });

  it('a header announcing a huge DataOffset is ParseError, not an endless buffer', () => {
    const h = flvFileHeader(true, true);
    h.writeUInt32BE(0xffffffff, 5);
    expect(() => new FlvDemuxer().push(h)).toThrow(ParseError);
  });
});

describe('FLV tag body parsers', () => {
  const body = fc.oneof(
    bytes(40),
    // Biased to what the parsers look at first: AVC/AAC codec nibbles, packet type 0, configurationVersion 1.
    fc.tuple(fc.constantFrom(0x17, 0x27, 0xaf, 0xae, 0x77), fc.constantFrom(0, 1), bytes(3), fc.constantFrom(1, 0), bytes(40))
      .map(([a, b, c, d, e]) => Buffer.concat([Buffer.of(a, b), c, Buffer.of(d), e])),
  );

  it('isSequenceHeader, parseAvcSequenceHeader, parseAacSequenceHeader: a value or ParseError', () => {
    fc.assert(fc.property(fc.constantFrom('audio' as const, 'video' as const, 'script' as const), body, (type, data) => {
      isSequenceHeader({ type, timestamp: 0, data, key: false });
      const avc = parsesOrParseError(() => parseAvcSequenceHeader(data));
      if (!(avc instanceof ParseError)) for (const ps of [...avc.sps, ...avc.pps]) expect(ps.length).toBeLessThanOrEqual(data.length);
      parsesOrParseError(() => parseAacSequenceHeader(data));
    }), { numRuns: RUNS });
  });

  it('sequence headers we build parse back', () => {
    fc.assert(fc.property(bytes(8), bytes(8), (sps, pps) => {
      const s = Buffer.concat([Buffer.of(0x67, 0x42, 0, 0x1f), sps]);
      const p = Buffer.concat([Buffer.of(0x68), pps]);
      const cfg = parseAvcSequenceHeader(avcSequenceHeader(s, p).data);
      expect([cfg.sps.map((b) => b.toString('hex')), cfg.pps.map((b) => b.toString('hex'))]).toEqual([[s.toString('hex')], [p.toString('hex')]]);
    }), { numRuns: 200 });
  });
});
