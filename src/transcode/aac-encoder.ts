/**
 * One call's audio → AAC inside the process: the engine (aac-engine.ts) runs
 * on a codec worker thread (codec-pool.ts); this is its handle on the event
 * loop, with the surface the ffmpeg transcoder had: `config` once (the
 * AudioSpecificConfig), `frame` per AAC frame, `exit` once. Input is bounded:
 * past {@link MAX_QUEUE} packets the worker has not processed yet, new ones
 * are dropped and counted.
 */
import { TypedEmitter, InvalidStateError, type Logger, type AudioFrameCodec } from '../shared/index.js';
import type { FromWorker } from './codec-messages.js';
import { codecPool, type CodecPool } from './codec-pool.js';
import { TRANSCODER_TRANSITIONS, type TranscoderState } from './transcoder-state.js';

/** Packets waiting for the codec worker: 4 s of 20 ms packets. */
export const MAX_QUEUE = 200;

export interface AacEncoderOptions {
  inputCodec: AudioFrameCodec;
  /** AAC sample rate, e.g. 48000. */
  outputRate: number;
  /** AAC bit rate in bit/s, e.g. 64000. */
  bitrate: number;
  log: Logger;
  /** Default: the process's pool. */
  pool?: CodecPool;
}

export class AacEncoder extends TypedEmitter<{
  config: [asc: Buffer];
  frame: [raw: Buffer, ptsMs: number];
  exit: [code: number | null, signal: string | null, crashed: boolean];
}> {
  readonly #opts: AacEncoderOptions;
  readonly #log: Logger;
  readonly #pool: CodecPool;
  #id = 0;
  #state: TranscoderState = 'idle';
  #inFlight = 0;
  #dropped = 0;
  #decodeErrors = 0;
  #closed: Promise<void> | undefined;
  #resolveClosed: () => void = () => undefined;

  constructor(opts: AacEncoderOptions) {
    super((event, err) => opts.log.error({ err, event }, 'AAC encoder listener threw'));
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'aac-encoder' });
    this.#pool = opts.pool ?? codecPool();
  }

  /** No process of its own. */
  get pid(): number | undefined {
    return undefined;
  }

  get state(): TranscoderState {
    return this.#state;
  }

  /** Input packets dropped because the codec worker did not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Payloads the decoder refused (as last reported by the worker). */
  get decodeErrors(): number {
    return this.#decodeErrors;
  }

  /** Packets sent to the worker and not processed yet. */
  get queued(): number {
    return this.#inFlight;
  }

  #transition(to: TranscoderState): void {
    if (!TRANSCODER_TRANSITIONS[this.#state].includes(to)) throw new InvalidStateError(`AAC encoder: ${this.#state} → ${to} not allowed`);
    this.#state = to;
  }

  start(): void {
    this.#transition('running');
    const { inputCodec, outputRate, bitrate } = this.#opts;
    this.#id = this.#pool.open((m) => this.#onMessage(m), { t: 'open', opts: { inputCodec, outputRate, bitrate } });
  }

  /** Queues one RTP payload with its pts (ms); dropped (counted) while 4 s are already waiting. */
  write(data: Buffer, ptsMs: number): void {
    if (this.#state !== 'running') return;
    if (this.#inFlight >= MAX_QUEUE) {
      this.#dropped++;
      return;
    }
    this.#inFlight++;
    this.#pool.write(this.#id, data, ptsMs);
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
        this.emit('config', Buffer.from(m.asc));
        return;
      case 'failed':
        this.#log.error({ reason: m.message }, 'AAC encoder failed');
        this.#exit(true);
        return;
      case 'frames':
      case 'closed': {
        if (m.t === 'frames') this.#inFlight = Math.max(0, this.#inFlight - m.done);
        if (m.decodeErrors > this.#decodeErrors) {
          // The first, then one line per hundred: a stranger's garbage must not flood the log.
          if (this.#decodeErrors === 0 || Math.floor(m.decodeErrors / 100) > Math.floor(this.#decodeErrors / 100)) {
            this.#log.warn({ count: m.decodeErrors }, 'audio payloads the decoder refused, dropped');
          }
          this.#decodeErrors = m.decodeErrors;
        }
        for (const f of m.frames) this.emit('frame', Buffer.from(f.raw.buffer, f.raw.byteOffset, f.raw.byteLength), f.ptsMs);
        if (m.t === 'closed') this.#exit(false);
      }
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
