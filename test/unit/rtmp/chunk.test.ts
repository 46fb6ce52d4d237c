import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ChunkEncoder, ChunkDecoder, MSG, type RtmpMessage } from '../../../src/rtmp/chunk.js';
import { ParseError } from '../../../src/shared/errors.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('ChunkEncoder', () => {
  it('writes fmt 0 then fmt 1, and fmt 3 continuations', () => {
    const e = new ChunkEncoder(4);
    const p = Buffer.from('0102030405', 'hex');
    // fmt 0, csid 3, ts 0x000010, len 5, type 20, stream id 1 (LE), 4 bytes, then fmt 3 + 1 byte
    expect(hex(e.encode(3, 20, 1, 0x10, p))).toBe('03' + '000010' + '000005' + '14' + '01000000' + '01020304' + 'c3' + '05');
    // same stream, later timestamp: fmt 1 with delta 0x20
    expect(hex(e.encode(3, 20, 1, 0x30, Buffer.from('aa', 'hex')))).toBe('43' + '000020' + '000001' + '14' + 'aa');
    // timestamp going backwards: fmt 0 again
    expect(hex(e.encode(3, 20, 1, 0x01, Buffer.alloc(0)))).toBe('03' + '000001' + '000000' + '14' + '01000000');
  });

  it('uses 2- and 3-byte basic headers for large chunk stream ids', () => {
    const e = new ChunkEncoder();
    expect(hex(e.encode(64 + 5, 8, 0, 0, Buffer.from('ff', 'hex'))).slice(0, 4)).toBe('0005');
    // csid 578 = 64 + 0x0202: marker 1, then (csid - 64) little-endian
    expect(hex(e.encode(578, 8, 0, 0, Buffer.from('ff', 'hex'))).slice(0, 6)).toBe('010202');
  });

  it('writes extended timestamps, repeated on fmt 3 chunks', () => {
    const e = new ChunkEncoder(2);
    const b = e.encode(4, 8, 1, 0x01000000, Buffer.from('a1a2a3', 'hex'));
    expect(hex(b)).toBe('04' + 'ffffff' + '000003' + '08' + '01000000' + '01000000' + 'a1a2' + 'c4' + '01000000' + 'a3');
    const d = new ChunkDecoder();
    d.push(Buffer.from('02000000000004010000000000000002', 'hex')); // Set Chunk Size 2
    const m = d.push(b);
    expect(m).toHaveLength(1);
    expect(m[0]?.timestamp).toBe(0x01000000);
    expect(hex(m[0]?.payload ?? Buffer.alloc(0))).toBe('a1a2a3');
  });
});

describe('ChunkDecoder', () => {
  it('decodes a real Window Ack Size + Set Peer Bandwidth + Set Chunk Size burst (node-media-server connect reply)', () => {
    const bytes = Buffer.from('02000000000004050000000000' + '4c4b40' + '020000000000050600000000' + '004c4b4002' + '020000000000040100000000' + '00001000', 'hex');
    const d = new ChunkDecoder();
    const ms = d.push(bytes);
    expect(ms.map((m) => m.type)).toEqual([MSG.windowAckSize, MSG.setPeerBandwidth, MSG.setChunkSize]);
    expect(ms[0]?.payload.readUInt32BE(0)).toBe(5_000_000);
    expect(d.chunkSize).toBe(4096);
  });

  it('reassembles interleaved chunk streams and handles fmt 2/3 new messages', () => {
    const d = new ChunkDecoder();
    const raw = Buffer.from(
      // csid 4: fmt 0, ts 100, len 200, type 8, sid 1, first 128 bytes
      '04' + '000064' + '0000c8' + '08' + '01000000' + 'aa'.repeat(128) +
      // csid 6: fmt 0, ts 100, len 3, type 9, whole
      '06' + '000064' + '000003' + '09' + '01000000' + 'bbbbbb' +
      // csid 4: fmt 3 continuation, 72 bytes
      'c4' + 'aa'.repeat(72) +
      // csid 6: fmt 2, delta 40, same len/type
      '86' + '000028' + 'cccccc' +
      // csid 6: fmt 3 new message: delta repeats (40)
      'c6' + 'dddddd', 'hex');
    const ms = d.push(raw);
    expect(ms.map((m) => [m.csid, m.type, m.timestamp, m.payload.length])).toEqual([
      [6, 9, 100, 3], [4, 8, 100, 200], [6, 9, 140, 3], [6, 9, 180, 3],
    ]);
  });

  it('drops a partial message on Abort', () => {
    const d = new ChunkDecoder();
    const ms = d.push(Buffer.from('04' + '000000' + '0000c8' + '08' + '01000000' + 'aa'.repeat(128) + '02000000000004020000000000000004' + '04000000000001080100000077', 'hex'));
    expect(ms.map((m) => m.type)).toEqual([MSG.abort, MSG.audio]);
    expect(ms[1]?.payload.toString('hex')).toBe('77');
  });

  it('rejects protocol violations with ParseError', () => {
    expect(() => new ChunkDecoder().push(Buffer.from('4300000000000114aa', 'hex'))).toThrow(ParseError); // fmt 1 on new stream
    expect(() => new ChunkDecoder({ maxMessageSize: 10 }).push(Buffer.from('030000000000ff1401000000', 'hex'))).toThrow(ParseError);
    expect(() => new ChunkDecoder().push(Buffer.from('02000000000004010000000000000000', 'hex'))).toThrow(ParseError); // chunk size 0
  });

  it('round-trips interleaved messages byte-exactly at any chunk size and slicing (property)', () => {
    const msgArb = fc.record({
      csid: fc.constantFrom(3, 4, 6, 70, 400),
      type: fc.constantFrom(8, 9, 18, 20),
      streamId: fc.constantFrom(0, 1),
      timestamp: fc.oneof(fc.nat({ max: 100_000 }), fc.integer({ min: 0xfffff0, max: 0xffffffff })),
      payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    });
    fc.assert(fc.property(
      fc.array(msgArb, { maxLength: 12 }), fc.integer({ min: 1, max: 200 }), fc.array(fc.nat({ max: 64 }), { maxLength: 20 }),
      (msgs, chunkSize, cuts) => {
        const e = new ChunkEncoder();
        const setSize = e.encode(2, MSG.setChunkSize, 0, 0, Buffer.from([0, 0, chunkSize >> 8, chunkSize & 0xff]));
        e.chunkSize = chunkSize;
        const wire = Buffer.concat([setSize, ...msgs.map((m) => e.encode(m.csid, m.type, m.streamId, m.timestamp, m.payload))]);
        const d = new ChunkDecoder();
        const out: RtmpMessage[] = [];
        let off = 0;
        for (const c of cuts) {
          out.push(...d.push(wire.subarray(off, Math.min(wire.length, off + c))));
          off = Math.min(wire.length, off + c);
        }
        out.push(...d.push(wire.subarray(off)));
        expect(out.slice(1).map((m) => ({ csid: m.csid, type: m.type, streamId: m.streamId, timestamp: m.timestamp, payload: m.payload })))
          .toEqual(msgs.map((m) => ({ ...m, timestamp: m.timestamp >>> 0 })));
        // Re-encoding what was decoded gives the same bytes.
        const e2 = new ChunkEncoder();
        const again = [e2.encode(2, MSG.setChunkSize, 0, 0, out[0]?.payload ?? Buffer.alloc(0))];
        e2.chunkSize = chunkSize;
        for (const m of out.slice(1)) again.push(e2.encode(m.csid, m.type, m.streamId, m.timestamp, m.payload));
        expect(Buffer.concat(again).equals(wire)).toBe(true);
      },
    ));
  });

  it('never throws anything but ParseError on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (arr) => {
      try {
        new ChunkDecoder().push(Buffer.from(arr));
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
      }
    }));
  });
});
