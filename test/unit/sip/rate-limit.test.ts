import { describe, it, expect } from 'vitest';
import { SourceRateLimiter } from '../../../src/sip/rate-limit.js';

describe('SourceRateLimiter', () => {
  it('lets a burst through, then the sustained rate; other sources are not affected', () => {
    const l = new SourceRateLimiter({ perSecond: 10, burst: 5 });
    const at0 = Array.from({ length: 20 }, () => l.allow('a', 0)).filter(Boolean).length;
    expect(at0).toBe(5);
    expect(l.allow('b', 0)).toBe(true);
    // 1 s later: 10 more tokens, capped at the burst.
    expect(Array.from({ length: 20 }, () => l.allow('a', 1000)).filter(Boolean).length).toBe(5);
    expect(Array.from({ length: 20 }, () => l.allow('a', 1100)).filter(Boolean).length).toBe(1);
  });

  it('remembers a bounded number of sources, forgetting the least recently seen', () => {
    const l = new SourceRateLimiter({ perSecond: 1, burst: 1, maxSources: 3 });
    for (const s of ['a', 'b', 'c']) l.allow(s, 0);
    l.allow('a', 0); // a seen again: b is now the oldest
    l.allow('d', 0);
    expect(l.size).toBe(3);
    expect(l.allow('b', 0)).toBe(true); // forgotten: a fresh bucket
    expect(l.allow('a', 0)).toBe(false);
  });
});
