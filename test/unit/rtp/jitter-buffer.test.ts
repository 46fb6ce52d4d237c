import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { JitterBuffer } from '../../../src/rtp/jitter-buffer.js';

interface P { seq: number }

function make(delayMs = 100, capacity?: number) {
  const out: { seq: number; gap: number }[] = [];
  const jb = new JitterBuffer<P>({ delayMs, ...(capacity ? { capacity } : {}) }, (p, gap) => out.push({ seq: p.seq, gap }));
  return { jb, out, seqs: () => out.map((o) => o.seq) };
}

describe('JitterBuffer', () => {
  it('releases contiguous packets at once', () => {
    const { jb, seqs } = make();
    for (const s of [10, 11, 12]) jb.push({ seq: s }, 0);
    expect(seqs()).toEqual([10, 11, 12]);
    expect(jb.held).toBe(0);
    expect(jb.nextDeadline()).toBeNull();
  });

  it('reorders and releases as soon as the hole is filled', () => {
    const { jb, out, seqs } = make();
    jb.push({ seq: 1 }, 0);
    jb.push({ seq: 3 }, 1);
    jb.push({ seq: 4 }, 2);
    expect(seqs()).toEqual([1]);
    expect(jb.held).toBe(2);
    jb.push({ seq: 2 }, 5);
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(out.every((o) => o.gap === 0)).toBe(true);
    expect(jb.counters.lost).toBe(0);
  });

  it('drops duplicates, held or already released', () => {
    const { jb, seqs } = make();
    jb.push({ seq: 1 }, 0);
    jb.push({ seq: 3 }, 0);
    jb.push({ seq: 3 }, 0);
    jb.push({ seq: 1 }, 0);
    jb.push({ seq: 2 }, 0);
    expect(seqs()).toEqual([1, 2, 3]);
    expect(jb.counters.duplicates).toBe(1);
    expect(jb.counters.late).toBe(1);
  });

  it('gives up on a missing packet after delayMs and reports the gap', () => {
    const { jb, out } = make(100);
    jb.push({ seq: 100 }, 0);
    jb.push({ seq: 103 }, 10);
    jb.push({ seq: 104 }, 20);
    expect(jb.nextDeadline()).toBe(110);
    jb.poll(109);
    expect(out.map((o) => o.seq)).toEqual([100]);
    jb.poll(110);
    expect(out).toEqual([{ seq: 100, gap: 0 }, { seq: 103, gap: 2 }, { seq: 104, gap: 0 }]);
    expect(jb.counters.lost).toBe(2);
    // The lost packet arriving late is dropped.
    jb.push({ seq: 101 }, 120);
    expect(out).toHaveLength(3);
    expect(jb.counters.late).toBe(1);
  });

  it('handles several holes with their own deadlines', () => {
    const { jb, out } = make(50);
    jb.push({ seq: 0 }, 0);
    jb.push({ seq: 2 }, 0);
    jb.push({ seq: 5 }, 40);
    jb.poll(50);
    expect(out).toEqual([{ seq: 0, gap: 0 }, { seq: 2, gap: 1 }]);
    expect(jb.nextDeadline()).toBe(90);
    jb.push({ seq: 4 }, 60);
    jb.poll(90);
    expect(out.slice(2)).toEqual([{ seq: 4, gap: 1 }, { seq: 5, gap: 0 }]);
  });

  it('wraps at 65535', () => {
    const { jb, out, seqs } = make();
    jb.push({ seq: 65534 }, 0);
    jb.push({ seq: 0 }, 0);
    jb.push({ seq: 65535 }, 0);
    jb.push({ seq: 2 }, 0);
    jb.push({ seq: 1 }, 0);
    expect(seqs()).toEqual([65534, 65535, 0, 1, 2]);
    jb.push({ seq: 4 }, 0);
    jb.poll(1000);
    expect(out.at(-1)).toEqual({ seq: 4, gap: 1 });
    // A packet from before the wrap is late, not a jump of 65000 ahead.
    jb.push({ seq: 65530 }, 0);
    expect(jb.counters.late).toBe(1);
  });

  it('forces packets out when one arrives beyond the window', () => {
    const { jb, out } = make(1000, 16);
    jb.push({ seq: 0 }, 0);
    jb.push({ seq: 2 }, 0);
    jb.push({ seq: 40 }, 0);
    expect(out).toEqual([{ seq: 0, gap: 0 }, { seq: 2, gap: 1 }, { seq: 40, gap: 37 }]);
  });

  it('accepts a sequence restart once the next packet confirms it', () => {
    const { jb, out } = make();
    jb.push({ seq: 1000 }, 0);
    jb.push({ seq: 30000 }, 0);
    expect(out).toHaveLength(1);
    jb.push({ seq: 30001 }, 0);
    jb.push({ seq: 30002 }, 0);
    expect(out).toEqual([{ seq: 1000, gap: 0 }, { seq: 30001, gap: 1 }, { seq: 30002, gap: 0 }]);
    expect(jb.counters.resets).toBe(1);
  });

  it('flush releases all held packets in order', () => {
    const { jb, seqs } = make();
    jb.push({ seq: 5 }, 0);
    jb.push({ seq: 9 }, 0);
    jb.push({ seq: 7 }, 0);
    jb.flush();
    expect(seqs()).toEqual([5, 7, 9]);
    expect(jb.held).toBe(0);
  });

  it('property: any reordering after the first packet and duplicates → each packet once, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (start, n, swaps, dups) => {
          const order = Array.from({ length: n }, (_, i) => i);
          // Local swaps keep displacement within a window of 8. The first
          // packet anchors the sequence, so it stays first.
          for (const [a, b] of swaps) {
            if (n < 3) break;
            const i = 1 + (a % (n - 1));
            const j = Math.min(n - 1, i + (b % 8));
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          for (const d of dups) order.splice((d % n) + 1, 0, order[d % n]!);
          const { jb, out, seqs } = make(100);
          for (const i of order) jb.push({ seq: (start + i) & 0xffff }, 0);
          jb.flush();
          expect(seqs()).toEqual(Array.from({ length: n }, (_, i) => (start + i) & 0xffff));
          expect(out.every((o) => o.gap === 0)).toBe(true);
        },
      ),
    );
  });
});
