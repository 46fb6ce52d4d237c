/**
 * One call's VP8 → H.264 inside the process (h264-engine.ts on a codec worker
 * thread): no ffmpeg process. Input is bounded: past {@link MAX_VIDEO_QUEUE}
 * frames the worker has not processed yet, new ones are dropped (counted) and
 * input resumes at the far end's next keyframe (the frames after a gap do not
 * decode). `frame` gives each access unit in Annex B (the caller splits it).
 */
import type { Logger } from '../shared/index.js';
import type { CodecPool } from './codec-pool.js';
import { CodecStream } from './codec-stream.js';

/** Frames waiting for the codec worker: 2 s at 30 fps. */
export const MAX_VIDEO_QUEUE = 60;

export interface H264EncoderOptions {
  /** x264 preset, e.g. `veryfast`. */
  preset: string;
  keyframeIntervalS: number;
  log: Logger;
  /** Default: the process's pool. */
  pool?: CodecPool;
}

export class H264Encoder extends CodecStream {
  #needKey = false;

  constructor(opts: H264EncoderOptions) {
    const { preset, keyframeIntervalS, log, pool } = opts;
    super({ engine: { kind: 'h264', preset, keyframeIntervalS }, maxQueue: MAX_VIDEO_QUEUE, log, ...(pool ? { pool } : {}) });
  }

  /** Feeds one whole VP8 frame with its pts; the engine starts at the first keyframe. */
  write(frame: Buffer, key: boolean, ptsMs: number): void {
    if (this.#needKey && !key) return;
    this.#needKey = !this.send(frame, ptsMs, key);
  }

  /** The next output frame is an IDR (a new or reconnected RTMP target needs one). */
  requestKeyframe(): void {
    this.keyframe();
  }
}
