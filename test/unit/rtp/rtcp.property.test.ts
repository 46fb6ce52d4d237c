/**
 * Property tests of the RTCP compound parser (RFC 3550 §6.1): random or
 * damaged datagrams give SR/BYE/other entries or ParseError — never another
 * exception — and valid compounds decode to what was built.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import {
  buildFir, buildNack, buildPli, buildReceiverReport, buildSdesCname, buildSenderReport, parseRtcpCompound,
} from '../../../src/rtp/rtcp.js';

const RUNS = 3000;

function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

/** BYE (RFC 3550 §6.6) with `ssrcs` and no reason. */
function bye(ssrcs: readonly number[]): Buffer {
  const b = Buffer.alloc(4 + ssrcs.length * 4);
  b[0] = 0x80 | ssrcs.length;
  b[1] = 203;
  b.writeUInt16BE(ssrcs.length, 2);
  ssrcs.forEach((s, i) => b.writeUInt32BE(s, 4 + i * 4));
  return b;
}

const u32 = fc.nat(0xffffffff);
const block = fc.record({
  ssrc: u32, fractionLost: fc.nat(255), cumulativeLost: fc.nat(0x7fffff), extHighestSeq: u32,
  jitter: fc.nat(0xffff), lsr: u32, dlsr: u32,
});
const part = fc.oneof(
  fc.tuple(u32, u32, u32, u32, u32, u32, fc.array(block, { maxLength: 3 })).map(([ssrc, ntpSec, ntpFrac, rtpTimestamp, packetCount, octetCount, blocks]) =>
    buildSenderReport(ssrc, { ntpSec, ntpFrac, rtpTimestamp, packetCount, octetCount }, blocks)),
  fc.tuple(u32, fc.array(block, { maxLength: 3 })).map(([s, blocks]) => buildReceiverReport(s, blocks)),
  fc.tuple(u32, fc.stringMatching(/^[a-z0-9.@-]{1,40}$/)).map(([s, c]) => buildSdesCname(s, c)),
  fc.tuple(u32, u32, fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 40 })).map(([a, b, seqs]) => buildNack(a, b, seqs)),
  fc.tuple(u32, u32).map(([a, b]) => buildPli(a, b)),
  fc.tuple(u32, u32, fc.nat(255)).map(([a, b, n]) => buildFir(a, b, n)),
  fc.array(u32, { maxLength: 31 }).map(bye),
);
const compound = fc.array(part, { minLength: 1, maxLength: 5 }).map((ps) => Buffer.concat(ps));

const mutated = fc.tuple(compound, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.option(fc.nat()))
  .map(([b, edits, cut]) => {
    const m = Buffer.from(b);
    for (const [i, v] of edits) m[i % m.length] = v;
    return cut === null ? m : m.subarray(0, cut % (m.length + 1));
  });

describe('parseRtcpCompound properties', () => {
  it('a valid compound decodes one entry per packet, SR and BYE fields intact', () => {
    fc.assert(fc.property(fc.array(fc.oneof(
      fc.tuple(fc.constant('sr' as const), u32, u32),
      fc.tuple(fc.constant('bye' as const), u32, u32),
      fc.tuple(fc.constant('pli' as const), u32, u32),
    ), { minLength: 1, maxLength: 6 }), (spec) => {
      const bytes = Buffer.concat(spec.map(([k, a, b]) => k === 'sr'
        ? buildSenderReport(a, { ntpSec: b, ntpFrac: 1, rtpTimestamp: 2, packetCount: 3, octetCount: 4 }, [])
        : k === 'bye' ? bye([a, b]) : buildPli(a, b)));
      expect(parseRtcpCompound(bytes)).toEqual(spec.map(([k, a, b]) => k === 'sr'
        ? { type: 'sr', ssrc: a, ntpSec: b, ntpFrac: 1, rtpTimestamp: 2, packetCount: 3, octetCount: 4 }
        : k === 'bye' ? { type: 'bye', ssrcs: [a, b] } : { type: 'other', packetType: 206 }));
    }), { numRuns: 300 });
  });

  it('random bytes: entries or ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      parsesOrParseError(() => parseRtcpCompound(Buffer.from(bytes)));
    }), { numRuns: RUNS });
  });

  it('random bytes behind a version-2 SR/BYE header: entries or ParseError', () => {
    fc.assert(fc.property(fc.nat(31), fc.constantFrom(200, 203), fc.nat(0xffff), fc.uint8Array({ maxLength: 200 }), (count, pt, words, bytes) => {
      const h = Buffer.of(0x80 | count, pt, words >> 8, words & 0xff);
      parsesOrParseError(() => parseRtcpCompound(Buffer.concat([h, Buffer.from(bytes)])));
    }), { numRuns: RUNS });
  });

  it('mutated and truncated valid compounds: entries or ParseError', () => {
    fc.assert(fc.property(mutated, (b) => {
      const r = parsesOrParseError(() => parseRtcpCompound(b));
      if (!(r instanceof ParseError)) expect(r.length).toBeLessThanOrEqual(Math.floor(b.length / 4));
    }), { numRuns: RUNS });
  });
});
