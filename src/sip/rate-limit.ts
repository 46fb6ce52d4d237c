/**
 * Per-source token buckets for requests that start something (out-of-dialog
 * requests): a stranger flooding the SIP port is dropped after its burst,
 * other sources carry on. Pure: the clock is passed in. The table of sources
 * is bounded (least recently seen forgotten first).
 */
export interface RateLimitOptions {
  /** Sustained requests per second per source. */
  perSecond: number;
  /** Requests a source may send at once. */
  burst: number;
  /** Sources remembered at most. Default 10000. */
  maxSources?: number;
}

export class SourceRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #max: number;

  constructor(private readonly opts: RateLimitOptions) {
    this.#max = opts.maxSources ?? 10_000;
  }

  /** True when `source` may send one more request at `nowMs`. */
  allow(source: string, nowMs: number): boolean {
    let b = this.#buckets.get(source);
    if (b === undefined) {
      b = { tokens: this.opts.burst, at: nowMs };
      if (this.#buckets.size >= this.#max) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    } else {
      this.#buckets.delete(source); // re-inserted below: most recently seen last
      b.tokens = Math.min(this.opts.burst, b.tokens + ((nowMs - b.at) * this.opts.perSecond) / 1000);
      b.at = nowMs;
    }
    this.#buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
