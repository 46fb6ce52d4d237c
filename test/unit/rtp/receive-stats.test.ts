import { describe, it, expect } from 'vitest';
import { ReceiveStats } from '../../../src/rtp/receive-stats.js';

describe('ReceiveStats (RFC 3550 A.1, A.3, A.8)', () => {
  it('counts loss, fraction lost per interval and the extended highest sequence across a wrap', () => {
    const s = new ReceiveStats(8000);
    let t = 0;
    for (let i = 0; i < 10; i++) {
      const seq = (65530 + i) & 0xffff;
      if (i === 3 || i === 7) continue; // two lost
      s.update(99, seq, i * 160, 160, t);
      t += 20;
    }
    expect(s.expected).toBe(10);
    expect(s.lost).toBe(2);
    const b = s.makeReportBlock(1000);
    expect(b.ssrc).toBe(99);
    expect(b.extHighestSeq).toBe(65536 + 3);
    expect(b.cumulativeLost).toBe(2);
    expect(b.fractionLost).toBe(Math.floor((2 * 256) / 10));
    // Next interval: no loss → fraction 0, cumulative unchanged.
    for (let i = 10; i < 20; i++) s.update(99, (65530 + i) & 0xffff, i * 160, 160, (t += 20));
    const b2 = s.makeReportBlock(2000);
    expect(b2.fractionLost).toBe(0);
    expect(b2.cumulativeLost).toBe(2);
  });

  it('jitter is zero for perfectly paced packets and grows with variance', () => {
    const s = new ReceiveStats(8000);
    for (let i = 0; i < 50; i++) s.update(1, i, i * 160, 160, i * 20);
    expect(s.jitter).toBe(0);
    // 4 ms late every other packet: |D| = 32 timestamp units → J converges toward 32.
    for (let i = 50; i < 400; i++) s.update(1, i, i * 160, 160, i * 20 + (i % 2 ? 4 : 0));
    expect(s.jitter).toBeGreaterThan(30);
    expect(s.jitter).toBeLessThan(32.1);
    expect(s.jitterMs).toBeCloseTo(s.jitter / 8, 5);
  });

  it('timestamp wrap does not look like jitter', () => {
    const s = new ReceiveStats(90000);
    const base = 0xffffffff - 3000 * 3;
    for (let i = 0; i < 10; i++) s.update(1, i, (base + i * 3000) >>> 0, 1000, i * (1000 / 30));
    expect(s.jitter).toBeLessThan(1);
  });

  it('LSR / DLSR from the last sender report', () => {
    const s = new ReceiveStats(8000);
    s.update(1, 0, 0, 160, 0);
    expect(s.makeReportBlock(0)).toMatchObject({ lsr: 0, dlsr: 0 });
    s.onSenderReport(0xaaaa1111, 0x2222bbbb, 1000);
    expect(s.makeReportBlock(1500)).toMatchObject({ lsr: 0x11112222, dlsr: 32768 });
  });

  it('a huge sequence jump is held for probation, then restarts the count', () => {
    const s = new ReceiveStats(8000);
    s.update(1, 100, 0, 1, 0);
    s.update(1, 101, 0, 1, 0);
    expect(s.update(1, 40000, 0, 1, 0)).toBe(false);
    expect(s.update(1, 40001, 0, 1, 0)).toBe(true);
    expect(s.lost).toBe(0);
    expect(s.extHighestSeq).toBe(40001);
  });
});
