import { describe, it, expect } from 'vitest';
import { ParseError } from '../../../src/shared/errors.js';
import {
  decodeTelephoneEvent, DtmfReceiver, dtmfEventCode, encodeTelephoneEvent, isValidDtmfString, planDigit,
} from '../../../src/rtp/dtmf.js';

describe('RFC 4733 DTMF codec', () => {
  it('maps digits to event codes and back', () => {
    expect([...'0123456789*#ABCD'].map(dtmfEventCode)).toEqual([...Array(16).keys()]);
    expect(dtmfEventCode('a')).toBe(12);
    expect(dtmfEventCode('x')).toBe(-1);
    expect(isValidDtmfString('1234#,,*9')).toBe(true);
    expect(isValidDtmfString('12 3')).toBe(false);
    expect(isValidDtmfString('')).toBe(false);
  });

  it('encodes the 4-byte payload (§2.3)', () => {
    const b = encodeTelephoneEvent({ event: 11, end: true, volume: 10, duration: 1280 });
    expect(b.toString('hex')).toBe('0b8a0500');
    expect(decodeTelephoneEvent(b)).toEqual({ event: 11, end: true, volume: 10, duration: 1280 });
    expect(() => decodeTelephoneEvent(Buffer.alloc(3))).toThrow(ParseError);
  });

  it('plans a 160 ms digit: 8 updates every 20 ms, first marked, then 3 end packets', () => {
    const plan = planDigit(5, 160, 10, 8000);
    expect(plan).toHaveLength(11);
    expect(plan.map((p) => p.atMs)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    expect(plan.map((p) => p.marker)).toEqual([true, ...Array(10).fill(false)]);
    expect(plan.map((p) => p.payload.duration)).toEqual([160, 320, 480, 640, 800, 960, 1120, 1280, 1280, 1280, 1280]);
    expect(plan.map((p) => p.payload.end)).toEqual([...Array(8).fill(false), true, true, true]);
  });

  it('receiver reports each event once, on its first end packet', () => {
    const got: [string, number][] = [];
    const rx = new DtmfReceiver(8000, (d, ms) => got.push([d, ms]));
    for (const p of planDigit(1, 100, 10, 8000)) rx.push(encodeTelephoneEvent(p.payload), 1000);
    for (const p of planDigit(11, 160, 10, 8000)) rx.push(encodeTelephoneEvent(p.payload), 5000);
    expect(got).toEqual([['1', 100], ['#', 160]]);
  });

  it('receiver reports an event whose end packets were lost when the next one starts', () => {
    const got: [string, number][] = [];
    const rx = new DtmfReceiver(8000, (d, ms) => got.push([d, ms]));
    rx.push(encodeTelephoneEvent({ event: 2, end: false, volume: 10, duration: 800 }), 1000);
    expect(got).toEqual([]);
    rx.push(encodeTelephoneEvent({ event: 3, end: false, volume: 10, duration: 160 }), 3000);
    expect(got).toEqual([['2', 100]]);
  });
});
