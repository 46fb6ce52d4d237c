import { describe, it, expect } from 'vitest';
import dgram from 'node:dgram';
import { freeUdpPortRange } from '../../helpers/ports.js';
import { PortAllocator } from '../../../src/rtp/port-allocator.js';
import { UnavailableError } from '../../../src/shared/errors.js';

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

describe('PortAllocator', () => {
  it('binds an even RTP port with RTCP on the next one', async () => {
    const base = await freeUdpPortRange(4);
    const alloc = new PortAllocator({ min: base, max: base + 3, host: '127.0.0.1' });
    const pair = await alloc.allocate();
    try {
      expect(pair.rtpPort).toBe(base);
      expect(pair.rtcpPort).toBe(base + 1);
      expect(pair.rtp.address().port).toBe(base);
      expect(pair.rtcp.address().port).toBe(base + 1);
    } finally {
      pair.close();
      pair.close(); // idempotent
    }
  });

  it('skips a pair whose RTP or RTCP port is busy, and throws when the range is exhausted', async () => {
    const base = await freeUdpPortRange(6);
    const busy = await bindUdp(base + 1); // RTCP of the first pair
    const alloc = new PortAllocator({ min: base - 1, max: base + 5, host: '127.0.0.1' }); // odd min rounds up
    const pairs = [];
    try {
      const a = await alloc.allocate();
      pairs.push(a);
      expect(a.rtpPort).toBe(base + 2);
      const b = await alloc.allocate();
      pairs.push(b);
      expect(b.rtpPort).toBe(base + 4);
      await expect(alloc.allocate()).rejects.toBeInstanceOf(UnavailableError);
      // The RTP port of the skipped pair was released again.
      const again = await bindUdp(base);
      again.close();
    } finally {
      for (const p of pairs) p.close();
      busy.close();
    }
  });

  it('rejects an empty or invalid range', () => {
    expect(() => new PortAllocator({ min: 5000, max: 5000, host: '127.0.0.1' })).toThrow(RangeError);
    expect(() => new PortAllocator({ min: 70000, max: 70010, host: '127.0.0.1' })).toThrow(RangeError);
  });
});
