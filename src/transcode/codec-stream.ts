/**
 * One call's codec engine (aac-engine.ts, h264-engine.ts) seen from the event
 * loop: the engine runs on a codec worker thread (codec-pool.ts); this handle
 * has the surface the ffmpeg transcoders had: `config` once (the AAC
 * AudioSpecificConfig; empty for video), `frame` per encoded frame, `exit`
 * once. Input is bounded: past `maxQueue` writes the worker has not processed
 * yet, new ones are dropped and counted (`dropped`).
 */
import { TypedEmitter, InvalidStateError, type Logger } from '../shared/index.js';
import type { EngineOptions, FromWorker } from './codec-messages.js';
import { codecPool, type CodecPool } from './codec-pool.js';
import { TRANSCODER_TRANSITIONS, type TranscoderState } from './transcoder-state.js';

export interface CodecStreamOptions {
  engine: EngineOptions;
  maxQueue: number;
  log: Logger;
  /** Default: the process's pool. */
  pool?: CodecPool;
}

export class CodecStream extends TypedEmitter<{
  config: [config: Buffer];
  /** `key` is set for video. */
  frame: [raw: Buffer, ptsMs: number, key: boolean];
  exit: [code: number | null, signal: string | null, crashed: boolean];
}> {
  protected readonly log: Logger;
  readonly #opts: CodecStreamOptions;
  readonly #pool: CodecPool;
  #id = 0;
  #state: TranscoderState = 'idle';
  #inFlight = 0;
  #dropped = 0;
  #decodeErrors = 0;
  #closed: Promise<void> | undefined;
  #resolveClosed: () => void = () => undefined;

  constructor(opts: CodecStreamOptions) {
    super((event, err) => opts.log.error({ err, event }, `${opts.engine.kind} codec listener threw`));
    this.#opts = opts;
    this.log = opts.log.child({ component: `${opts.engine.kind}-encoder` });
    this.#pool = opts.pool ?? codecPool();
  }

  /** No process of its own. */
  get pid(): number | undefined {
    return undefined;
  }

  get state(): TranscoderState {
    return this.#state;
  }

  /** Input dropped because the codec worker did not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Payloads the decoder refused (as last reported by the worker). */
  get decodeErrors(): number {
    return this.#decodeErrors;
  }

  /** Writes sent to the worker and not processed yet. */
  get queued(): number {
    return this.#inFlight;
  }

  #transition(to: TranscoderState): void {
    if (!TRANSCODER_TRANSITIONS[this.#state].includes(to)) throw new InvalidStateError(`${this.#opts.engine.kind} encoder: ${this.#state} → ${to} not allowed`);
    this.#state = to;
  }

  start(): void {
    this.#transition('running');
    this.#id = this.#pool.open((m) => this.#onMessage(m), { t: 'open', opts: this.#opts.engine });
  }

  /** Queues one payload with its pts (ms); false when it was dropped (counted) because the queue is full. */
  protected send(data: Buffer, ptsMs: number, key: boolean): boolean {
    if (this.#state !== 'running') return true;
    if (this.#inFlight >= this.#opts.maxQueue) {
      this.#dropped++;
      return false;
    }
    this.#inFlight++;
    this.#pool.write(this.#id, data, ptsMs, key);
    return true;
  }

  /** Asks the engine for a keyframe next (video). */
  protected keyframe(): void {
    if (this.#state === 'running') this.#pool.keyframe(this.#id);
  }

  /** The worker encodes what is queued and flushes (those frames still go out); resolves once it is done. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    if (this.#state === 'idle' || this.#state === 'exited') this.#exit(false);
    else if (this.#state === 'running') {
      this.#transition('closing');
      this.#pool.close(this.#id);
    }
    return this.#closed;
  }

  #onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'opened':
        this.emit('config', Buffer.from(m.config));
        return;
      case 'failed':
        this.log.error({ reason: m.message }, `${this.#opts.engine.kind} encoder failed`);
        this.#exit(true);
        return;
      case 'frame':
        this.emit('frame', m.raw, m.ptsMs, m.key);
        return;
      case 'progress':
      case 'closed':
        if (m.t === 'progress') this.#inFlight = Math.max(0, this.#inFlight - m.done);
        if (m.decodeErrors > this.#decodeErrors) {
          // The first, then one line per hundred: a stranger's garbage must not flood the log.
          if (this.#decodeErrors === 0 || Math.floor(m.decodeErrors / 100) > Math.floor(this.#decodeErrors / 100)) {
            this.log.warn({ count: m.decodeErrors }, 'payloads the decoder refused, dropped');
          }
          this.#decodeErrors = m.decodeErrors;
        }
        if (m.t === 'closed') this.#exit(false);
    }
  }

  #exit(crashed: boolean): void {
    if (this.#state === 'exited') {
      this.#resolveClosed();
      return;
    }
    this.#state = 'exited';
    this.emit('exit', crashed ? 1 : 0, null, crashed);
    this.#resolveClosed();
  }
}
