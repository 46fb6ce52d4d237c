/**
 * Which lost video packets to ask for again with generic NACK (RFC 4585
 * §6.2.1), and when. A gap in sequence numbers is not reported at once: on
 * a jittery path most gaps are reordering that heals within a few tens of
 * ms, and NACKing them only makes the sender resend what is on its way. A
 * missing packet is NACKed after `delayMs`, retried every `retryMs` up to
 * `maxTries` times, and forgotten once it arrives. Pure: the owner passes
 * times and polls at `nextDeadline()`.
 */
import { seqDiff } from '../shared/index.js';

export interface NackTrackerOptions {
  /** Wait before the first NACK of a missing packet. */
  delayMs: number;
  retryMs?: number;
  maxTries?: number;
  /** Gaps longer than this are not NACKed (a keyframe fixes a burst that long better). */
  maxRun?: number;
  /** Missing packets tracked at most (the oldest are forgotten). */
  capacity?: number;
}

interface Pending {
  due: number;
  tries: number;
}

export class NackTracker {
  readonly #delayMs: number;
  readonly #retryMs: number;
  readonly #maxTries: number;
  readonly #maxRun: number;
  readonly #capacity: number;
  /** seq → when to (re)send; Map iteration order = insertion order = oldest first. */
  readonly #pending = new Map<number, Pending>();
  #highest = -1;

  constructor(opts: NackTrackerOptions) {
    this.#delayMs = opts.delayMs;
    this.#retryMs = opts.retryMs ?? 40;
    this.#maxTries = opts.maxTries ?? 2;
    this.#maxRun = opts.maxRun ?? 64;
    this.#capacity = opts.capacity ?? 256;
  }

  /** Missing packets being tracked. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Records an arrived packet: forgets it if it was missing, records the gap before it if it is ahead. */
  onPacket(seq: number, nowMs: number): void {
    const s = seq & 0xffff;
    if (this.#highest < 0) {
      this.#highest = s;
      return;
    }
    this.#pending.delete(s);
    const d = seqDiff(this.#highest, s);
    if (d <= 0) return;
    if (d > 1 && d <= this.#maxRun) {
      for (let k = 1; k < d; k++) {
        this.#pending.set((this.#highest + k) & 0xffff, { due: nowMs + this.#delayMs, tries: 0 });
      }
      while (this.#pending.size > this.#capacity) this.#pending.delete(this.#pending.keys().next().value as number);
    }
    this.#highest = s;
  }

  /** The packets to NACK now (each at most `maxTries` times over its life). */
  due(nowMs: number): number[] {
    const out: number[] = [];
    for (const [seq, p] of this.#pending) {
      if (p.due > nowMs) continue;
      out.push(seq);
      p.tries++;
      if (p.tries >= this.#maxTries) this.#pending.delete(seq);
      else p.due = nowMs + this.#retryMs;
    }
    return out;
  }

  nextDeadline(): number | null {
    let min = Infinity;
    for (const p of this.#pending.values()) if (p.due < min) min = p.due;
    return min === Infinity ? null : min;
  }

  /** New source: forget everything. */
  reset(): void {
    this.#pending.clear();
    this.#highest = -1;
  }
}
