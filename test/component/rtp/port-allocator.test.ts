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
      expect([base, base + 2]).toContain(pair.rtpPort);
      expect(pair.rtcpPort).toBe(pair.rtpPort + 1);
      expect(pair.rtp.address().port).toBe(pair.rtpPort);
      expect(pair.rtcp.address().port).toBe(pair.rtpPort + 1);
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
      const b = await alloc.allocate();
      pairs.push(b);
      expect([a.rtpPort, b.rtpPort].sort()).toEqual([base + 2, base + 4]);
      await expect(alloc.allocate()).rejects.toBeInstanceOf(UnavailableError);
      // The RTP port of the skipped pair was released again.
      const again = await bindUdp(base);
      again.close();
    } finally {
      for (const p of pairs) p.close();
      busy.close();
    }
  });

  it('starts at a random pair, and does not hand a just-released pair out again while others are free', async () => {
    const base = await freeUdpPortRange(40);
    const alloc = new PortAllocator({ min: base, max: base + 39, host: '127.0.0.1' });
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) {
      const p = await alloc.allocate();
      seen.push(p.rtpPort);
      p.close();
    }
    // 12 allocations over 20 pairs, each released at once: never the same pair twice in a row, and not in range order.
    expect(new Set(seen).size).toBe(12);
    const sequential = seen.every((p, i) => i === 0 || p === seen[i - 1]! + 2);
    expect(sequential).toBe(false);
  });

  it('rejects an empty or invalid range', () => {
    expect(() => new PortAllocator({ min: 5000, max: 5000, host: '127.0.0.1' })).toThrow(RangeError);
    expect(() => new PortAllocator({ min: 70000, max: 70010, host: '127.0.0.1' })).toThrow(RangeError);
  });
});
