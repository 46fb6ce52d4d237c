/**
 * Jitter buffer of one RTP stream: reorders by sequence number, drops
 * duplicates, releases packets in order as soon as they are contiguous, and
 * gives up on a missing packet once the packets behind it have waited
 * `delayMs`. Pure: the owner passes arrival times and calls `poll()` at
 * `nextDeadline()`; nothing here owns a timer.
 */
import { seqDiff } from '../shared/index.js';

/** The minimum a buffered packet needs. */
export interface SequencedPacket {
  readonly seq: number;
}

/**
 * Receives released packets in order. `gapBefore` is the number of packets
 * given up on immediately before this one (0 when contiguous); it is 1 after a
 * sequence restart, where the real count is unknown.
 */
export type ReleaseSink<T> = (packet: T, gapBefore: number) => void;

export interface JitterBufferOptions {
  /** How long a packet waits for a missing predecessor before it is given up on. */
  delayMs: number;
  /** Slots (a power of two); a packet further ahead forces earlier packets out. Default 1024. */
  capacity?: number;
}

/** Counters since creation. */
export interface JitterBufferCounters {
  released: number;
  duplicates: number;
  /** Arrived after its slot was released or given up on. */
  late: number;
  /** Given up on (never arrived in time). */
  lost: number;
  /** Sequence restarts accepted (a big jump confirmed by the next packet). */
  resets: number;
}

/** A jump beyond this is treated as a possible sender restart (RFC 3550 §A.1). */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

export class JitterBuffer<T extends SequencedPacket> {
  readonly delayMs: number;
  readonly counters: JitterBufferCounters = { released: 0, duplicates: 0, late: 0, lost: 0, resets: 0 };
  readonly #sink: ReleaseSink<T>;
  readonly #mask: number;
  readonly #slots: (T | undefined)[];
  readonly #arrival: Float64Array;
  /** Next sequence number to release; -1 before the first packet. */
  #next = -1;
  #held = 0;
  #badSeq = -1;
  /** Gap to report with the next released packet (after a forced skip). */
  #pendingGap = 0;

  constructor(opts: JitterBufferOptions, sink: ReleaseSink<T>) {
    const capacity = opts.capacity ?? 1024;
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) throw new RangeError('capacity must be a power of two');
    this.delayMs = Math.max(0, opts.delayMs);
    this.#sink = sink;
    this.#mask = capacity - 1;
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
    this.#arrival = new Float64Array(capacity);
  }

  /** Number of packets waiting for a predecessor. */
  get held(): number {
    return this.#held;
  }

  /** Adds an arrived packet; releases whatever became contiguous (synchronously, through the sink). */
  push(packet: T, nowMs: number): void {
    const seq = packet.seq & 0xffff;
    if (this.#next < 0) {
      this.#next = seq;
    }
    const d = seqDiff(this.#next, seq);
    if (d < 0) {
      if (d >= -MAX_MISORDER) {
        this.counters.late++;
        return;
      }
      if (!this.#probation(seq)) return;
      this.#restart(seq);
    } else if (d > this.#mask) {
      if (d > MAX_DROPOUT) {
        if (!this.#probation(seq)) return;
        this.#restart(seq);
      } else {
        // Too far ahead for the window: give up on what is missing up to it.
        this.#skipUntilFits(seq);
      }
    }
    const i = seq & this.#mask;
    if (this.#slots[i] !== undefined) {
      this.counters.duplicates++;
      return;
    }
    this.#slots[i] = packet;
    this.#arrival[i] = nowMs;
    this.#held++;
    this.#drain();
  }

  /** Gives up on missing packets whose successors waited `delayMs`, and releases. */
  poll(nowMs: number): void {
    while (this.#held > 0) {
      const deadline = this.nextDeadline();
      if (deadline === null || deadline > nowMs) return;
      this.#skipToNextHeld();
      this.#drain();
    }
  }

  /** When `poll()` next has work to do, or null when nothing is held. */
  nextDeadline(): number | null {
    if (this.#held === 0) return null;
    let oldest = Infinity;
    let found = 0;
    for (let k = 0; k <= this.#mask && found < this.#held; k++) {
      const i = (this.#next + k) & this.#mask;
      if (this.#slots[i] !== undefined) {
        found++;
        const a = this.#arrival[i]!;
        if (a < oldest) oldest = a;
      }
    }
    return oldest + this.delayMs;
  }

  /** Releases everything held, in order, reporting gaps. */
  flush(): void {
    while (this.#held > 0) {
      this.#skipToNextHeld();
      this.#drain();
    }
  }

  /** Drops everything and forgets the sequence (new SSRC). */
  reset(): void {
    this.#slots.fill(undefined);
    this.#held = 0;
    this.#next = -1;
    this.#badSeq = -1;
    this.#pendingGap = 0;
  }

  #probation(seq: number): boolean {
    // RFC 3550 §A.1: a far jump is believed once the next packet follows it.
    if (seq === this.#badSeq) return true;
    this.#badSeq = (seq + 1) & 0xffff;
    this.counters.late++;
    return false;
  }

  #restart(seq: number): void {
    this.flush();
    this.#next = seq;
    this.#badSeq = -1;
    this.#pendingGap = 1;
    this.counters.resets++;
  }

  #drain(): void {
    for (;;) {
      const i = this.#next & this.#mask;
      const p = this.#slots[i];
      if (p === undefined) return;
      this.#slots[i] = undefined;
      this.#held--;
      this.#next = (this.#next + 1) & 0xffff;
      const gap = this.#pendingGap;
      this.#pendingGap = 0;
      this.counters.released++;
      this.#sink(p, gap);
    }
  }

  /** Moves `next` to the first held packet, counting the skipped ones as lost. */
  #skipToNextHeld(): void {
    for (let k = 0; k <= this.#mask; k++) {
      if (this.#slots[(this.#next + k) & this.#mask] !== undefined) {
        this.#lose(k);
        return;
      }
    }
  }

  #skipUntilFits(seq: number): void {
    while (seqDiff(this.#next, seq) > this.#mask) {
      if (this.#held > 0) {
        this.#skipToNextHeld();
        this.#drain();
      } else {
        this.#lose(seqDiff(this.#next, seq));
      }
    }
  }

  #lose(n: number): void {
    if (n <= 0) return;
    this.#next = (this.#next + n) & 0xffff;
    this.#pendingGap += n;
    this.counters.lost += n;
  }
}
