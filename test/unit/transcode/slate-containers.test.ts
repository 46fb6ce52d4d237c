import { describe, it, expect } from 'vitest';
import { ivfFrames, oggPackets } from '../../helpers/containers.js';
import { packetizeVp8 } from '../../../src/rtp/index.js';

describe('test containers (IVF, Ogg) and VP8 packetizing', () => {
  it('reads IVF frames', () => {
    const header = Buffer.alloc(32);
    header.write('DKIF', 0, 'latin1');
    header.writeUInt16LE(32, 6);
    const frame = (bytes: number[]): Buffer => {
      const h = Buffer.alloc(12);
      h.writeUInt32LE(bytes.length, 0);
      return Buffer.concat([h, Buffer.from(bytes)]);
    };
    expect(ivfFrames(Buffer.concat([header, frame([1, 2, 3]), frame([4])]))).toEqual([Buffer.from([1, 2, 3]), Buffer.from([4])]);
    expect(() => ivfFrames(Buffer.alloc(40))).toThrow(/IVF/);
  });

  it('reassembles Ogg packets across 255-byte lacing values (RFC 3533)', () => {
    const big = Buffer.alloc(300, 7);
    const small = Buffer.from([9, 9]);
    const page = Buffer.concat([
      Buffer.from('OggS', 'latin1'), Buffer.alloc(22), Buffer.from([3, 255, 45, 2]), big, small,
    ]);
    expect(oggPackets(page)).toEqual([big, small]);
  });

  it('splits a VP8 frame into RTP payloads with the S bit first and the marker last (RFC 7741 §4.2)', () => {
    const frame = Buffer.alloc(2500, 1);
    const unit = packetizeVp8(frame, 1200);
    expect(unit.map((p) => p.payload.length)).toEqual([1200, 1200, 103]);
    expect(unit.map((p) => p.payload[0])).toEqual([0x10, 0x00, 0x00]);
    expect(unit.map((p) => p.marker)).toEqual([false, false, true]);
    expect(Buffer.concat(unit.map((p) => p.payload.subarray(1)))).toEqual(frame);
  });
});
