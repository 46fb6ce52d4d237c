import { describe, it, expect } from 'vitest';
import { mediaClockNow, RESYNC_MS, RtpTimestampMapper } from '../../../src/rtp/media-clock.js';

describe('RtpTimestampMapper', () => {
  it('anchors the first timestamp at the given media time and follows the clock rate', () => {
    const m = new RtpTimestampMapper(90000);
    expect(m.map(1000, 500)).toBe(500);
    // The clock passed at release (later than arrival: the jitter buffer's wait) does not move the time.
    expect(m.map(1000 + 90000, 1700)).toBe(1500);
    expect(m.map(1000 + 87000, 1750)).toBeCloseTo(1466.667, 2); // B-frame: steps back, no wrap
  });

  it('handles the 32-bit wrap', () => {
    const m = new RtpTimestampMapper(8000);
    m.map(0xffffff00, 0);
    // 0x100 units to the wrap + 0x60 after it = 352 units = 44 ms at 8 kHz.
    expect(m.map(0x00000060, 50)).toBe(44);
    expect(m.map(0x00000060 + 8000 * 3600, 3_600_100)).toBe(44 + 3_600_000);
  });

  it('re-anchors after reset and setAnchor', () => {
    const m = new RtpTimestampMapper(8000);
    m.map(0, 0);
    m.reset();
    expect(m.map(123456, 777)).toBe(777);
    m.setAnchor(0, 1000);
    expect(m.map(8000, 2100)).toBe(2000);
  });

  it('re-syncs on a timestamp jump under the same SSRC (a looped recording, frozen timestamps): time keeps advancing', () => {
    const m = new RtpTimestampMapper(90000);
    m.map(0, 0);
    expect(m.map(90000 * 12, 12_000)).toBe(12_000);
    // The sender restarts its timestamps at 0: 12 s back, far past RESYNC_MS.
    expect(m.map(0, 12_040)).toBe(12_040);
    expect(m.map(3600, 12_100)).toBe(12_080);
    // A jump forwards too (timestamps that ran on while nothing was sent, then resumed from elsewhere).
    expect(m.map(3600 + 90 * (RESYNC_MS + 1000), 12_150)).toBe(12_150);
    // Within the bound, the stream's own timing is kept.
    expect(m.map(3600 + 90 * (RESYNC_MS + 1000) + 9000, 12_250 + RESYNC_MS - 1)).toBe(12_250);
  });

  it('mediaClockNow is monotonic', () => {
    const a = mediaClockNow();
    const b = mediaClockNow();
    expect(b).toBeGreaterThanOrEqual(a);
  });
});
