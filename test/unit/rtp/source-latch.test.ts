import { describe, it, expect } from 'vitest';
import { SourceLatch, sameAddress } from '../../../src/rtp/source-latch.js';

const far = { address: '192.0.2.10', port: 4000 };

describe('SourceLatch', () => {
  it('takes media only from the SDP address, unless symmetric', () => {
    const strict = new SourceLatch(false, 2000);
    expect(strict.addressAllowed('192.0.2.10', '192.0.2.10')).toBe(true);
    expect(strict.addressAllowed('::ffff:192.0.2.10', '192.0.2.10')).toBe(true);
    expect(strict.addressAllowed('198.51.100.7', '192.0.2.10')).toBe(false);
    expect(new SourceLatch(true, 2000).addressAllowed('198.51.100.7', '192.0.2.10')).toBe(true);
  });

  it('latches the first source; another is refused while it is live and replaces it after the silence', () => {
    const l = new SourceLatch(false, 2000);
    expect(l.latch(far, 0)).toBe('new');
    expect(l.latch(far, 1500)).toBe('same');
    expect(l.latch({ address: far.address, port: 4002 }, 3000)).toBe('refused'); // 1.5 s after the last packet
    expect(l.latch({ address: far.address, port: 4002 }, 3600)).toBe('moved');
    expect(l.source).toEqual({ address: far.address, port: 4002 });
    expect(l.latch(far, 3700)).toBe('refused');
  });

  it('takes RTCP from the latched address (any port) once latched; reset forgets the source', () => {
    const l = new SourceLatch(true, 2000);
    expect(l.rtcpAllowed('198.51.100.7', null)).toBe(true);
    l.latch(far, 0);
    expect(l.rtcpAllowed(far.address, null)).toBe(true);
    expect(l.rtcpAllowed('198.51.100.7', null)).toBe(false);
    l.reset();
    expect(l.source).toBeNull();
    expect(l.latch({ address: '198.51.100.7', port: 5000 }, 1)).toBe('new');
  });

  it('compares IPv4 and IPv4-mapped IPv6 spellings', () => {
    expect(sameAddress('::ffff:127.0.0.1', '127.0.0.1')).toBe(true);
    expect(sameAddress('127.0.0.1', '127.0.0.2')).toBe(false);
  });
});
