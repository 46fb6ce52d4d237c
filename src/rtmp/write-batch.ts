/**
 * Gathers RTMP writes for a few milliseconds so a publisher hands the kernel
 * one buffer per interval instead of one per FLV tag (~70 a second per target
 * for 25 fps video + AAC). A socket write costs about the same for 200 bytes
 * as for 20 KB on loopback, and it was the largest single item on the event
 * loop's profile (docs/benchmarks.md). One timer per interval serves every
 * publisher in the process.
 */

/** Something with buffered writes to hand over. */
export interface BatchedWriter {
  flush(): void;
}

const schedulers = new Map<number, WriteScheduler>();

/** The process's scheduler for this interval. */
export function writeScheduler(intervalMs: number): WriteScheduler {
  let s = schedulers.get(intervalMs);
  if (s === undefined) {
    s = new WriteScheduler(intervalMs);
    schedulers.set(intervalMs, s);
  }
  return s;
}

/** Flushes every writer that asked, once, at most `intervalMs` after its first ask. */
export class WriteScheduler {
  readonly #intervalMs: number;
  #due = new Set<BatchedWriter>();
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Asks for `w.flush()` at the next tick (idempotent until then). */
  schedule(w: BatchedWriter): void {
    this.#due.add(w);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#tick, this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Forgets a writer (it flushed by itself or is gone). */
  cancel(w: BatchedWriter): void {
    this.#due.delete(w);
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const due = this.#due;
    this.#due = new Set();
    for (const w of due) w.flush();
  };
}
