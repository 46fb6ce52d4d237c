/**
 * A lifecycle scope: the one owner of what a call (or any other long-lived
 * object) creates — timers, sockets, child processes, other closeables — and
 * the one place they are released. `close()` runs every release once, in
 * reverse order of registration (what was made last goes first), waits for
 * the asynchronous ones, and never throws: a failing release is reported to
 * `onError` and the others still run. After close, anything added is
 * released at once, so a resource that finishes allocating after its owner
 * ended cannot leak (the allocate race).
 */

/** Anything with a close(), sync or async. */
export interface Closeable {
  close(): void | Promise<void>;
}

type Release = () => void | Promise<void>;

export class Scope {
  readonly #releases: Release[] = [];
  #closing: Promise<void> | null = null;

  /** @param onError told about a release that threw or rejected (default: ignored). */
  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  /** True once close() has started. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Registers a release; after close it runs at once. */
  defer(release: Release): void {
    if (this.#closing !== null) {
      void this.#run(release);
      return;
    }
    this.#releases.push(release);
  }

  /** Registers `c` to be closed with the scope and returns it; closed at once when the scope already is. */
  add<T extends Closeable>(c: T): T {
    this.defer(() => c.close());
    return c;
  }

  /** A timer owned by the scope (cleared on close); none is started once closed. */
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout | null {
    if (this.closed) return null;
    const t = setTimeout(fn, ms);
    this.defer(() => clearTimeout(t));
    return t;
  }

  /** An interval owned by the scope (cleared on close); none is started once closed. */
  setInterval(fn: () => void, ms: number): NodeJS.Timeout | null {
    if (this.closed) return null;
    const t = setInterval(fn, ms);
    this.defer(() => clearInterval(t));
    return t;
  }

  /** A scope closed with this one (before what this one registered earlier), or earlier on its own. */
  child(): Scope {
    const c = new Scope(this.onError);
    this.add(c);
    return c;
  }

  /** Releases everything once, last registered first; the same promise on every call. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#releases.length > 0) await this.#run(this.#releases.pop()!);
    })();
    return this.#closing;
  }

  async #run(release: Release): Promise<void> {
    try {
      await release();
    } catch (err) {
      this.onError(err);
    }
  }
}
