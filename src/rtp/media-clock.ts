import { performance } from 'node:perf_hooks';
import { tsDiff } from '../shared/index.js';

/** Process-wide epoch of the media clock: every stream's `ptsMs` is relative to it. */
const EPOCH = performance.now();

/**
 * Milliseconds on the process-wide media clock (monotonic, unaffected by
 * wall-clock steps). Audio and video of a call are both anchored on it, so
 * their `ptsMs` values are comparable without RTCP.
 */
export function mediaClockNow(): number {
  return performance.now() - EPOCH;
}

/**
 * A mapped time this far from the media clock is a jump of the sender's
 * timestamps, not jitter (the jitter buffer holds ≤ 2 s, lip sync moves ≤ 2 s).
 */
export const RESYNC_MS = 5000;

/**
 * Maps the 32-bit RTP timestamps of one stream (one SSRC) to `ptsMs` on the
 * media clock: the first timestamp seen maps to the media clock at that moment,
 * later ones are offset by their (unwrapped) distance at the codec clock rate.
 * Steps backwards (B-frames, reordering) are signed distances, not wraps
 * (RFC 3550 §5.1: the timestamp wraps modulo 2^32). A timestamp that lands
 * more than {@link RESYNC_MS} away from the clock (a sender that restarted
 * its timestamps under the same SSRC, e.g. a looped recording, or froze them
 * while on hold) re-anchors the stream there (RFC 3550 §A.1 re-sync): its
 * output keeps advancing with real time instead of stalling on a clamp.
 */
export class RtpTimestampMapper {
  readonly clockRate: number;
  #anchorTs = 0;
  #anchorMs = 0;
  /** Unwrapped timestamp of the last mapped value, relative to the anchor. */
  #lastTs = 0;
  #lastExt = 0;
  #started = false;

  constructor(clockRate: number) {
    if (!(clockRate > 0)) throw new RangeError(`invalid clock rate ${clockRate}`);
    this.clockRate = clockRate;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Returns `ptsMs` for an RTP timestamp; the first call anchors the stream at `nowMs`. */
  map(timestamp: number, nowMs: number): number {
    if (!this.#started) {
      this.setAnchor(timestamp, nowMs);
      return nowMs;
    }
    this.#lastExt += tsDiff(this.#lastTs, timestamp >>> 0);
    this.#lastTs = timestamp >>> 0;
    const ms = this.#anchorMs + (this.#lastExt * 1000) / this.clockRate;
    if (Math.abs(ms - nowMs) <= RESYNC_MS) return ms;
    this.setAnchor(timestamp, nowMs);
    return nowMs;
  }

  /** What `map()` would return for `timestamp`, without moving the unwrapping state; null before the anchor. */
  peek(timestamp: number): number | null {
    if (!this.#started) return null;
    return this.#anchorMs + ((this.#lastExt + tsDiff(this.#lastTs, timestamp >>> 0)) * 1000) / this.clockRate;
  }

  /**
   * Re-anchors the stream: `timestamp` maps to `mediaMs` from now on. This is
   * the hook for lip sync from RTCP sender reports (RFC 3550 §6.4.1), which
   * pair an RTP timestamp with the sender's wall clock.
   */
  setAnchor(timestamp: number, mediaMs: number): void {
    this.#anchorTs = timestamp >>> 0;
    this.#anchorMs = mediaMs;
    this.#lastTs = this.#anchorTs;
    this.#lastExt = 0;
    this.#started = true;
  }

  /** Forgets the anchor (new SSRC): the next timestamp re-anchors on the media clock. */
  reset(): void {
    this.#started = false;
  }
}
