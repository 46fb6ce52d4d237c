/**
 * The codec worker threads of the process: calls' audio and video encoding
 * (and the generated media) runs there, never on the event loop that moves
 * their packets. Each call's engine lives
 * on one worker (the least loaded when it opens); writes to a worker are
 * gathered for {@link FLUSH_MS} and sent as one packed batch
 * (codec-batch.ts), and so are its frames coming back. A worker that dies
 * fails the engines it held (their calls log it and go on with silence) and
 * is replaced for new ones.
 * Workers are unref'd: they never keep the process alive.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BatchBuilder, readBatch, type PackedBatch } from './codec-batch.js';
import type { EngineOptions, FromWorker, FromWorkerMessage, ToWorker } from './codec-messages.js';
import type { SlateRequest } from './slate-engine.js';

/** The worker entry next to this file: TypeScript under tsx (development, tests), JavaScript when built. */
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './codec-worker.ts' : './codec-worker.js', import.meta.url);

/** A worker on ENTRY; TypeScript needs tsx's loader registered inside the worker first (`--import` does not reach workers). */
function startWorker(): Worker {
  // Given no execArgv a worker inherits the parent's flags, V8 ones included (an explicit list that
  // names one, e.g. --max-old-space-size, is refused). But --input-type (only valid for eval'd input)
  // is fatal for a worker file: then none.
  if (!ENTRY.pathname.endsWith('.ts')) return new Worker(ENTRY, process.execArgv.some((a) => a.startsWith('--input-type')) ? { execArgv: [] } : {});
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
  return new Worker(boot, { eval: true });
}

/**
 * Writes are gathered this long before they go to a worker: one message
 * carries every call's packets of the period, so a worker wakes ~50 times a
 * second however many calls it holds (a wake-up per packet cost more than
 * the encoding, measured). Adds at most this much audio delay.
 */
const FLUSH_MS = 20;

export type CodecListener = (m: FromWorker) => void;

interface Slot {
  worker: Worker;
  /** Busy (not idle) time of its event loop when last read, ms. */
  busyMs: number;
  /** Engines open on it. */
  load: number;
  outbox: BatchBuilder<ToWorker>;
  listeners: Map<number, CodecListener>;
}

export class CodecPool {
  readonly #size: number;
  readonly #slots: Slot[] = [];
  readonly #owner = new Map<number, Slot>();
  #nextId = 1;
  /** Busy time of workers that are gone, ms. */
  #goneBusyMs = 0;
  #flushQueued = false;
  #closed = false;

  constructor(size = Math.max(1, Math.min(4, availableParallelism()))) {
    this.#size = size;
  }

  /** Opens an engine (or a one-off) on the least loaded worker; `listener` gets every message about it. Returns its id. */
  open(listener: CodecListener, msg: { t: 'open'; opts: EngineOptions } | { t: 'make'; req: SlateRequest }): number {
    if (this.#closed) throw new Error('codec pool closed');
    const slot = this.#pick();
    const id = this.#nextId++;
    slot.load++;
    slot.listeners.set(id, listener);
    this.#owner.set(id, slot);
    this.#send(slot, msg.t === 'open' ? { t: 'open', id, opts: msg.opts } : { t: 'make', id, req: msg.req });
    return id;
  }

  write(id: number, data: Buffer, ptsMs: number, key = false): void {
    const slot = this.#owner.get(id);
    if (slot === undefined) return;
    slot.outbox.record(id, ptsMs, key, data);
    this.#flushSoon();
  }

  /** The engine's next output frame is a keyframe (video engines). */
  keyframe(id: number): void {
    const slot = this.#owner.get(id);
    if (slot !== undefined) this.#send(slot, { t: 'keyframe', id });
  }

  /** Generated media, made on a worker (slate-engine.ts). */
  make(req: SlateRequest): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      this.open((m) => {
        if (m.t === 'made') resolve(m.data.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
        else if (m.t === 'failed') reject(new Error(m.message));
      }, { t: 'make', req });
    });
  }

  /** Flushes and frees the engine; its last frames and `closed` still reach the listener. */
  close(id: number): void {
    const slot = this.#owner.get(id);
    if (slot !== undefined) this.#send(slot, { t: 'close', id });
  }

  /** Stops every worker (gateway shutdown). */
  async terminate(): Promise<void> {
    this.#closed = true;
    this.busySeconds();
    await Promise.all(this.#slots.splice(0).map((s) => s.worker.terminate()));
  }

  /** Seconds the workers have spent working (not waiting for messages): their share of the process's CPU. */
  busySeconds(): number {
    let ms = this.#goneBusyMs;
    for (const s of this.#slots) {
      try {
        s.busyMs = s.worker.performance.eventLoopUtilization().active;
      } catch {
        // A worker that is exiting keeps its last reading.
      }
      ms += s.busyMs;
    }
    return ms / 1000;
  }

  #pick(): Slot {
    if (this.#slots.length < this.#size) return this.#spawn();
    let best = this.#slots[0] as Slot;
    for (const s of this.#slots) if (s.load < best.load) best = s;
    return best;
  }

  #spawn(): Slot {
    const worker = startWorker();
    worker.unref();
    const slot: Slot = { worker, busyMs: 0, load: 0, outbox: new BatchBuilder(), listeners: new Map() };
    worker.on('message', (batch: PackedBatch<FromWorkerMessage>) => {
      readBatch(
        batch,
        (id, ptsMs, key, raw) => slot.listeners.get(id)?.({ t: 'frame', id, raw, ptsMs, key }),
        (m) => {
          slot.listeners.get(m.id)?.(m);
          if (m.t === 'closed' || m.t === 'failed' || m.t === 'made') this.#release(slot, m.id);
        },
      );
    });
    const fail = (message: string): void => {
      const i = this.#slots.indexOf(slot);
      if (i >= 0) {
        this.#slots.splice(i, 1);
        this.#goneBusyMs += slot.busyMs;
      }
      for (const [id, l] of [...slot.listeners]) {
        this.#release(slot, id);
        l({ t: 'failed', id, message });
      }
    };
    worker.on('error', (err) => fail(`codec worker failed: ${err.message}`));
    worker.on('exit', (code) => fail(`codec worker exited (${code})`));
    this.#slots.push(slot);
    return slot;
  }

  #release(slot: Slot, id: number): void {
    if (!slot.listeners.delete(id)) return;
    slot.load--;
    this.#owner.delete(id);
  }

  #send(slot: Slot, m: ToWorker): void {
    slot.outbox.other(m);
    this.#flushSoon();
  }

  #flushSoon(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setTimeout(this.#flush, FLUSH_MS);
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    for (const s of this.#slots) {
      if (s.outbox.empty) continue;
      const { batch, transfer } = s.outbox.take();
      s.worker.postMessage(batch, transfer);
    }
  };
}

let shared: CodecPool | undefined;

/** The process's codec pool, started on first use. */
export function codecPool(): CodecPool {
  shared ??= new CodecPool();
  return shared;
}
