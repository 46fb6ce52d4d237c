import { afterEach, describe, it, expect, vi } from 'vitest';
import { ParseError } from '../../../src/shared/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { parseMinSe, parseSessionExpires, refreshHeaders, SessionTimer } from '../../../src/sip/session-timer.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('Session-Expires / Min-SE (RFC 4028 §4)', () => {
  it('parses the interval and the refresher; rejects junk', () => {
    expect(parseSessionExpires('1800;refresher=uac')).toEqual({ seconds: 1800, refresher: 'uac' });
    expect(parseSessionExpires(' 90 ; refresher=UAS')).toEqual({ seconds: 90, refresher: 'uas' });
    expect(parseSessionExpires('600')).toEqual({ seconds: 600, refresher: undefined });
    expect(parseMinSe('90;x=1')).toBe(90);
    for (const bad of ['', 'abc', '-5', '1e3;refresher=uac']) expect(() => parseSessionExpires(bad)).toThrow(ParseError);
    expect(refreshHeaders(1800)).toEqual([{ name: 'Session-Expires', value: '1800;refresher=uac' }, { name: 'Min-SE', value: '90' }]);
  });
});

describe('SessionTimer', () => {
  it('an interval below our Min-SE is raised to it: no refresh storm', async () => {
    vi.useFakeTimers();
    const refreshes: number[] = [];
    const t = new SessionTimer({
      log: silentLogger(), minSeconds: 90,
      refresh: (s) => {
        refreshes.push(s);
        return Promise.resolve({ status: 200, sessionExpires: undefined });
      },
      expire: () => undefined,
    });
    t.arm({ seconds: 1, refresher: 'uac' }, true);
    expect(t.state).toEqual({ seconds: 90, weRefresh: true });
    await vi.advanceTimersByTimeAsync(44_000);
    expect(refreshes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(refreshes).toEqual([90]);
    t.close();
  });

  it('we refresh at half the interval; a 408 to the refresh ends the session', async () => {
    vi.useFakeTimers();
    const refreshes: number[] = [];
    const expired: string[] = [];
    let answer = 200;
    const t = new SessionTimer({
      log: silentLogger(),
      refresh: (s) => {
        refreshes.push(s);
        return Promise.resolve({ status: answer, sessionExpires: undefined });
      },
      expire: (r) => expired.push(r),
    });
    t.arm({ seconds: 100, refresher: undefined }, true); // no refresher in the 2xx: the UAC (we) refreshes
    expect(t.state).toEqual({ seconds: 100, weRefresh: true });
    await vi.advanceTimersByTimeAsync(49_000);
    expect(refreshes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(refreshes).toEqual([100]);
    answer = 408;
    await vi.advanceTimersByTimeAsync(50_000);
    expect(refreshes).toEqual([100, 100]);
    expect(expired).toEqual(['session refresh 408']);
    t.close();
  });

  it('the far end refreshes: expiry at interval − min(32, interval/3) unless re-armed by its refresh', async () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const t = new SessionTimer({ log: silentLogger(), refresh: () => Promise.reject(new Error('not us')), expire: (r) => expired.push(r) });
    t.arm({ seconds: 90, refresher: 'uas' }, true);
    expect(t.state?.weRefresh).toBe(false);
    await vi.advanceTimersByTimeAsync(50_000);
    t.arm({ seconds: 90, refresher: 'uac' }, false); // its refresh request: it is the uac of it
    await vi.advanceTimersByTimeAsync(59_000);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(expired).toEqual(['Session timer expired']);
    t.arm(undefined, false);
    expect(t.state).toBeUndefined();
    t.close();
  });
});
