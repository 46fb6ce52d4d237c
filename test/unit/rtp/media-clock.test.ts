import { describe, it, expect } from 'vitest';
import { mediaClockNow, RtpTimestampMapper } from '../../../src/rtp/media-clock.js';

describe('RtpTimestampMapper', () => {
  it('anchors the first timestamp at the given media time and follows the clock rate', () => {
    const m = new RtpTimestampMapper(90000);
    expect(m.map(1000, 500)).toBe(500);
    expect(m.map(1000 + 90000, 9999)).toBe(1500);
    expect(m.map(1000 + 87000, 9999)).toBeCloseTo(1466.667, 2); // B-frame: steps back, no wrap
  });

  it('handles the 32-bit wrap', () => {
    const m = new RtpTimestampMapper(8000);
    m.map(0xffffff00, 0);
    // 0x100 units to the wrap + 0x60 after it = 352 units = 44 ms at 8 kHz.
    expect(m.map(0x00000060, 0)).toBe(44);
    expect(m.map(0x00000060 + 8000 * 3600, 0)).toBe(44 + 3_600_000);
  });

  it('re-anchors after reset and setAnchor', () => {
    const m = new RtpTimestampMapper(8000);
    m.map(0, 0);
    m.reset();
    expect(m.map(123456, 777)).toBe(777);
    m.setAnchor(0, 1000);
    expect(m.map(8000, 0)).toBe(2000);
  });

  it('mediaClockNow is monotonic', () => {
    const a = mediaClockNow();
    const b = mediaClockNow();
    expect(b).toBeGreaterThanOrEqual(a);
  });
});
