/**
 * Property tests of the RTMP chunk stream decoder (RTMP spec §5.3) and the
 * small parsers around it (handshake §5.2, user control §6.2, commands
 * §7.1.1): whatever a server sends, in whatever slices TCP delivers it,
 * they give messages or throw ParseError — never another exception — and
 * the decoder honours its caps.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ParseError } from '../../../src/shared/errors.js';
import { ByteSink, ChunkDecoder, ChunkEncoder, MSG, type ChunkDecoderOptions, type RtmpMessage } from '../../../src/rtmp/chunk.js';
import { HandshakeClient, HANDSHAKE_SIZE } from '../../../src/rtmp/handshake.js';
import { parseUserControl, setChunkSizePayload } from '../../../src/rtmp/messages.js';
import { SERVER_LIMITS } from '../../../src/rtmp/publisher.js';

const RUNS = 2000;

function parsesOrParseError<T>(f: () => T): T | ParseError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ParseError) return err;
    throw err;
  }
}

/** Cuts `b` at the given points (sorted, deduplicated), as TCP may deliver it. */
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

/** Feeds every slice; stops at the first ParseError (the connection is closed then). Checks the caps on what came out. */
function feed(parts: readonly Buffer[], opts?: ChunkDecoderOptions): RtmpMessage[] | ParseError {
  const dec = new ChunkDecoder(opts);
  const out: RtmpMessage[] = [];
  for (const p of parts) {
    const r = parsesOrParseError(() => dec.push(p));
    if (r instanceof ParseError) return r;
    out.push(...r);
    expect(dec.chunkSize).toBeLessThanOrEqual(opts?.maxChunkSize ?? 0xffffff);
  }
  const maxMessage = opts?.maxMessageSize ?? 0xffffff;
  for (const m of out) expect(m.payload.length).toBeLessThanOrEqual(maxMessage);
  expect(new Set(out.map((m) => m.csid)).size).toBeLessThanOrEqual(opts?.maxChunkStreams ?? 64);
  return out;
}

interface Msg { csid: number; type: number; streamId: number; timestamp: number; payload: Buffer }
const msg: fc.Arbitrary<Msg> = fc.record({
  csid: fc.oneof(fc.integer({ min: 3, max: 8 }), fc.integer({ min: 64, max: 400 })),
  type: fc.constantFrom(MSG.audio, MSG.video, MSG.commandAmf0, MSG.dataAmf0, MSG.userControl),
  streamId: fc.nat(3),
  timestamp: fc.oneof(fc.nat(0xffff), fc.integer({ min: 0xfffff0, max: 0x1000010 }), fc.nat(0xffffffff)),
  payload: fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
});
/** A valid stream: messages chunked at 128, optionally a Set Chunk Size part-way. */
const stream = fc.tuple(fc.array(msg, { minLength: 1, maxLength: 8 }), fc.option(fc.tuple(fc.nat(7), fc.integer({ min: 1, max: 4096 }))))
  .map(([msgs, change]) => {
    const enc = new ChunkEncoder();
    const parts: Buffer[] = [];
    const sent: Msg[] = [];
    msgs.forEach((m, i) => {
      if (change !== null && change[0] === i) {
        const p = setChunkSizePayload(change[1]);
        parts.push(enc.encode(2, MSG.setChunkSize, 0, 0, p));
        sent.push({ csid: 2, type: MSG.setChunkSize, streamId: 0, timestamp: 0, payload: p });
        enc.chunkSize = change[1];
      }
      parts.push(enc.encode(m.csid, m.type, m.streamId, m.timestamp, m.payload));
      sent.push(m);
    });
    return { bytes: Buffer.concat(parts), sent };
  });

const mutated = fc.tuple(stream, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.option(fc.nat()))
  .map(([s, edits, cut]) => {
    const m = Buffer.from(s.bytes);
    for (const [i, v] of edits) m[i % m.length] = v;
    return cut === null ? m : m.subarray(0, cut % (m.length + 1));
  });
const cuts = fc.array(fc.nat(), { maxLength: 6 });

describe('ChunkDecoder properties', () => {
  it('a valid stream in any slicing decodes to the messages sent', () => {
    fc.assert(fc.property(stream, cuts, ({ bytes, sent }, cs) => {
      const got = feed(slices(bytes, cs));
      expect(got).not.toBeInstanceOf(ParseError);
      expect((got as RtmpMessage[]).map((m) => [m.csid, m.type, m.streamId, m.timestamp, m.payload.toString('hex')]))
        .toEqual(sent.map((m) => [m.csid, m.type, m.streamId, m.timestamp >>> 0, m.payload.toString('hex')]));
    }), { numRuns: 300 });
  });

  it('messages encoded back to back into one ByteSink (a write batch) are the same bytes as encoded one by one', () => {
    fc.assert(fc.property(fc.array(msg, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 64 }), (msgs, capacity) => {
      const one = new ChunkEncoder(4096);
      const batched = new ChunkEncoder(4096);
      const sink = new ByteSink(capacity); // small on purpose: it has to grow
      const parts = msgs.map((m) => {
        batched.encodeTo(sink, m.csid, m.type, m.streamId, m.timestamp, m.payload);
        return one.encode(m.csid, m.type, m.streamId, m.timestamp, m.payload);
      });
      expect(sink.bytes().equals(Buffer.concat(parts))).toBe(true);
    }), { numRuns: 300 });
  });

  it.each([
    ['default caps', undefined],
    ['a publisher\'s caps', SERVER_LIMITS],
    ['tight caps', { maxMessageSize: 256, maxChunkStreams: 2, maxChunkSize: 200 }],
  ] as const)('random bytes (%s): messages within the caps or ParseError', (_n, opts) => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), cuts, (b, cs) => {
      feed(slices(Buffer.from(b), cs), opts);
    }), { numRuns: RUNS });
  });

  it.each([
    ['default caps', undefined],
    ['tight caps', { maxMessageSize: 256, maxChunkStreams: 2, maxChunkSize: 200 }],
  ] as const)('mutated and truncated valid streams (%s): messages within the caps or ParseError', (_n, opts) => {
    fc.assert(fc.property(mutated, cuts, (b, cs) => {
      feed(slices(b, cs), opts);
    }), { numRuns: RUNS });
  });
});

describe('handshake and control parsers', () => {
  it('HandshakeClient: any server reply in any slicing ends done, waiting or ParseError', () => {
    const reply = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.nat(255), fc.nat(2 * HANDSHAKE_SIZE + 20)).map(([v, n]) => Buffer.concat([Buffer.of(v % 4 === 0 ? 3 : v), Buffer.alloc(n, 1)])),
    );
    fc.assert(fc.property(reply, cuts, (b, cs) => {
      const hs = new HandshakeClient(0);
      hs.start(0);
      let done = false;
      let fed = 0;
      for (const p of slices(b, cs)) {
        fed += p.length;
        const r = parsesOrParseError(() => hs.push(p, 0));
        if (r instanceof ParseError) return;
        if (r.done) {
          done = true;
          // `rest` is what this slice carried past S2; later slices belong to the session.
          expect(r.rest.length).toBe(fed - 1 - 2 * HANDSHAKE_SIZE);
          break;
        }
      }
      expect(done).toBe(b.length >= 1 + 2 * HANDSHAKE_SIZE);
    }), { numRuns: RUNS });
  });

  it('parseUserControl: an event or ParseError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 10 }), (b) => {
      const r = parsesOrParseError(() => parseUserControl(Buffer.from(b)));
      expect(r instanceof ParseError).toBe(b.length < 6);
    }), { numRuns: RUNS });
  });
});
