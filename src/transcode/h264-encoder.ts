/**
 * One call's video re-encoding to H.264 inside the process (h264-engine.ts on
 * a codec worker thread), no ffmpeg process: VP8 (which RTMP cannot carry),
 * or H.264 made regular for picky RTMP/HLS servers (`transcodeVideo`: a fixed
 * keyframe interval, an optional resolution cap). Input is bounded: past
 * {@link MAX_VIDEO_QUEUE} frames the worker has not processed yet, new ones
 * are dropped (counted) and input resumes at the far end's next keyframe (the
 * frames after a gap do not decode). `frame` gives each access unit in
 * Annex B (the caller splits it).
 */
import type { Logger, VideoFrameCodec } from '../shared/index.js';
import type { CodecPool } from './codec-pool.js';
import { CodecStream } from './codec-stream.js';

/** Frames waiting for the codec worker: 2 s at 30 fps. */
export const MAX_VIDEO_QUEUE = 60;

export interface H264EncoderOptions {
  /** What `write` is given: VP8 frames, or H.264 access units in Annex B. Default `VP8`. */
  input?: VideoFrameCodec;
  /** x264 preset, e.g. `veryfast`. */
  preset: string;
  keyframeIntervalS: number;
  /**
   * Resolution cap in pixels (a positive integer; 0 or absent: none on that
   * side): a larger picture is scaled down to fit, aspect kept, never up.
   */
  maxWidth?: number;
  maxHeight?: number;
  log: Logger;
  /** Default: the process's pool. */
  pool?: CodecPool;
}

/** A cap must be a whole number of pixels, 0 for none: anything else is the caller's bug, thrown here rather than on the worker. */
function cap(name: string, v: number | undefined): number {
  if (v === undefined || v === 0) return 0;
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`H264Encoder: ${name} must be a positive integer or 0, not ${v}`);
  return v;
}

export class H264Encoder extends CodecStream {
  #needKey = false;

  /** Throws a RangeError on a cap that is not a whole number of pixels. */
  constructor(opts: H264EncoderOptions) {
    const { input = 'VP8', preset, keyframeIntervalS, log, pool } = opts;
    const maxWidth = cap('maxWidth', opts.maxWidth);
    const maxHeight = cap('maxHeight', opts.maxHeight);
    super({
      engine: { kind: 'h264', input, preset, keyframeIntervalS, maxWidth, maxHeight }, maxQueue: MAX_VIDEO_QUEUE, log, ...(pool ? { pool } : {}),
    });
  }

  /**
   * Feeds one whole VP8 frame, or one whole H.264 access unit in Annex B
   * (SPS and PPS in front of a keyframe), with its pts; the engine starts at
   * the first keyframe.
   */
  write(frame: Buffer, key: boolean, ptsMs: number): void {
    if (this.#needKey && !key) return;
    this.#needKey = !this.send(frame, ptsMs, key);
  }

  /** The next output frame is an IDR (a new or reconnected RTMP target needs one). */
  requestKeyframe(): void {
    this.keyframe();
  }
}
