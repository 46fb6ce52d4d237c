/**
 * One call's audio → AAC inside the process (aac-engine.ts on a codec worker
 * thread). Input is bounded: past {@link MAX_QUEUE} packets the worker has
 * not processed yet, new ones are dropped and counted.
 */
import type { Logger, AudioFrameCodec } from '../shared/index.js';
import type { AacEncoderChoice } from './aac-engine.js';
import type { CodecPool } from './codec-pool.js';
import { CodecStream } from './codec-stream.js';

/** Packets waiting for the codec worker: 4 s of 20 ms packets. */
export const MAX_QUEUE = 200;

export interface AacEncoderOptions {
  inputCodec: AudioFrameCodec;
  /** AAC sample rate, e.g. 48000. */
  outputRate: number;
  /** AAC bit rate in bit/s, e.g. 64000. */
  bitrate: number;
  /** libavcodec's AAC encoder (default "aac"). */
  encoder?: AacEncoderChoice;
  log: Logger;
  /** Default: the process's pool. */
  pool?: CodecPool;
}

export class AacEncoder extends CodecStream {
  constructor(opts: AacEncoderOptions) {
    const { inputCodec, outputRate, bitrate, encoder, log, pool } = opts;
    super({ engine: { kind: 'aac', inputCodec, outputRate, bitrate, ...(encoder ? { encoder } : {}) }, maxQueue: MAX_QUEUE, log, ...(pool ? { pool } : {}) });
  }

  /** Queues one RTP payload with its pts (ms); dropped (counted) while 4 s are already waiting. */
  write(data: Buffer, ptsMs: number): void {
    this.send(data, ptsMs, false);
  }
}
