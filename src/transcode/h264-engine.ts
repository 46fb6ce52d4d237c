/**
 * VP8 or H.264 → H.264 with libavcodec (node-av), synchronous: the video codec
 * core a codec worker thread runs (see codec-pool.ts), never the event loop.
 * VP8 is re-encoded because RTMP cannot carry it; H.264 when asked to
 * (`transcodeVideo`: a far end's stream made regular for picky RTMP/HLS
 * servers). x264 with zerolatency and no B-frames gives one output frame per
 * input frame at once; a keyframe comes every `keyframeIntervalS` of input
 * time (SPEC §5: every 2 s), whatever the frame rate and wherever the far
 * end put its own, and at once when asked (a new or reconnected RTMP target).
 * Pictures larger than the optional cap are scaled down first, and pictures
 * in another pixel format converted (video-scaler.ts). A change of the
 * encoded size reopens the encoder on a keyframe. A payload the decoder
 * refuses is counted and dropped (then the engine waits for the far end's
 * next keyframe), never thrown.
 *
 * The H.264 decoder runs on one thread with AV_CODEC_FLAG_LOW_DELAY: given a
 * B-frame-free stream (what SIP far ends send; x264 writes
 * max_num_reorder_frames 0), each access unit's picture comes out of the
 * write that carried it. A stream with B-frames still decodes, but each
 * picture comes out as many writes late as the stream reorders, and takes
 * the time of the write that released it.
 *
 * Timing, as the ffmpeg path did it: frame times are the input pts relative
 * to the first frame, strictly increasing, with gaps over 5 s (hold) taken
 * out; output pts are put back on the input clock by adding the first pts
 * and the jumps.
 */
import { Codec, CodecContext, FFmpegError, Frame, Log, Packet, Rational } from 'node-av/lib';
import {
  AV_CODEC_FLAG_LOW_DELAY, AV_CODEC_ID_H264, AV_CODEC_ID_VP8, AV_LOG_QUIET, AV_PICTURE_TYPE_I, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P,
  FF_ENCODER_LIBX264,
} from 'node-av/constants';
import type { VideoFrameCodec } from '../shared/index.js';
import { VideoScaler } from './video-scaler.js';

Log.setLevel(AV_LOG_QUIET);

const MAX_GAP_MS = 5000;

export interface H264EngineOptions {
  /**
   * What `write` is given: whole VP8 frames, or whole H.264 access units in
   * Annex B (start codes; SPS and PPS in front of each keyframe).
   */
  input: VideoFrameCodec;
  /** x264 preset, e.g. `veryfast`. */
  preset: string;
  keyframeIntervalS: number;
  /** Resolution cap (pixels, 0 or absent: none): larger pictures are scaled down to fit, aspect kept. */
  maxWidth?: number;
  maxHeight?: number;
}

/** One H.264 access unit (Annex B) with its pts (ms, on the input's clock). */
export interface VideoOut {
  raw: Buffer;
  key: boolean;
  ptsMs: number;
}

interface Jump {
  atMs: number;
  ms: number;
}

export class H264Engine {
  /** Frames the decoder refused. */
  decodeErrors = 0;
  /** Decoded pictures in a pixel format the scaler cannot convert to yuv420p (dropped). */
  unsupported = 0;
  readonly #opts: H264EngineOptions;
  readonly #decoder: CodecContext;
  readonly #scaler: VideoScaler;
  #encoder: CodecContext | undefined;
  /** The encoder's picture size. */
  #width = 0;
  #height = 0;
  readonly #packet = new Packet();
  readonly #frame = new Frame();
  readonly #timeBase = new Rational(1, 1000);
  #firstPts: number | undefined;
  #lastRel = -1;
  #jumpMs = 0;
  readonly #jumps: Jump[] = [];
  #outJumpMs = 0;
  #lastKeyRel = Number.NEGATIVE_INFINITY;
  #forceKey = false;
  #needKey = true;
  #freed = false;

  /** Opens the input's decoder (the encoder opens at the first picture, at its size); throws if libavcodec lacks a codec. */
  constructor(opts: H264EngineOptions) {
    this.#opts = opts;
    if (!Codec.findEncoderByName(FF_ENCODER_LIBX264)) throw new Error('libavcodec has no libx264 encoder');
    const h264 = opts.input === 'H264';
    const dc = Codec.findDecoder(h264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8);
    if (!dc) throw new Error(`libavcodec has no ${opts.input} decoder`);
    const dec = new CodecContext();
    dec.allocContext3(dc);
    dec.threadCount = 1;
    if (h264) dec.setFlags(AV_CODEC_FLAG_LOW_DELAY);
    try {
      FFmpegError.throwIfError(dec.open2Sync(dc, null), `${opts.input} decoder open`);
    } catch (e) {
      dec.freeContext();
      throw e;
    }
    this.#decoder = dec;
    this.#scaler = new VideoScaler(opts.maxWidth ?? 0, opts.maxHeight ?? 0);
    this.#packet.alloc();
    this.#frame.alloc();
  }

  /** The next picture is encoded as an IDR (SPS/PPS in front). */
  requestKeyframe(): void {
    this.#forceKey = true;
  }

  /**
   * One whole VP8 frame or H.264 access unit with its pts (ms) → the H.264
   * access units it gives (none until the first keyframe).
   */
  write(data: Buffer, ptsMs: number, key: boolean): VideoOut[] {
    if (this.#freed || (this.#needKey && !key)) return [];
    this.#needKey = false;
    this.#firstPts ??= ptsMs;
    let rel = ptsMs - this.#firstPts - this.#jumpMs;
    if (rel - this.#lastRel > MAX_GAP_MS) {
      const ms = rel - this.#lastRel - 40;
      this.#jumpMs += ms;
      this.#jumps.push({ atMs: this.#lastRel + 40, ms });
      rel -= ms;
    }
    rel = Math.max(Math.round(rel), this.#lastRel + 1);
    this.#lastRel = rel;
    const pkt = this.#packet;
    pkt.data = data;
    const sent = this.#decoder.sendPacketSync(pkt);
    pkt.unref();
    const out: VideoOut[] = [];
    if (sent < 0) {
      this.decodeErrors++;
      this.#needKey = true;
      return out;
    }
    const frame = this.#frame;
    while (this.#decoder.receiveFrameSync(frame) >= 0) {
      try {
        this.#encode(frame, rel, out);
      } finally {
        frame.unref();
      }
    }
    return out;
  }

  /** What the decoder (only with B-frames in the input) and the encoder still hold. */
  flush(): VideoOut[] {
    const out: VideoOut[] = [];
    if (this.#freed) return out;
    this.#decoder.sendPacketSync(null);
    const frame = this.#frame;
    while (this.#decoder.receiveFrameSync(frame) >= 0) {
      try {
        this.#encode(frame, ++this.#lastRel, out);
      } finally {
        frame.unref();
      }
    }
    if (this.#encoder === undefined) return out;
    this.#encoder.sendFrameSync(null);
    this.#drain(out);
    return out;
  }

  /** Frees the codecs; idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#decoder.freeContext();
    this.#encoder?.freeContext();
    this.#scaler.free();
    this.#packet.free();
    this.#frame.free();
  }

  #encode(decoded: Frame, rel: number, out: VideoOut[]): void {
    const frame = this.#scaler.fit(decoded);
    if (frame === undefined) {
      this.unsupported++;
      return;
    }
    if (frame.width !== this.#width || frame.height !== this.#height) {
      if (this.#encoder !== undefined) {
        this.#encoder.sendFrameSync(null);
        this.#drain(out);
        this.#encoder.freeContext();
        this.#encoder = undefined;
      }
      this.#encoder = this.#openEncoder(frame.width, frame.height);
      this.#width = frame.width;
      this.#height = frame.height;
      this.#forceKey = true;
    }
    const key = this.#forceKey || rel - this.#lastKeyRel >= this.#opts.keyframeIntervalS * 1000;
    if (key) {
      this.#lastKeyRel = rel;
      this.#forceKey = false;
    }
    // The decoder marks its keyframes intra: only ours count.
    frame.pictType = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    frame.pts = BigInt(rel);
    frame.timeBase = this.#timeBase;
    FFmpegError.throwIfError((this.#encoder as CodecContext).sendFrameSync(frame), 'H.264 encode');
    this.#drain(out);
  }

  #openEncoder(width: number, height: number): CodecContext {
    const codec = Codec.findEncoderByName(FF_ENCODER_LIBX264) as Codec;
    const enc = new CodecContext();
    enc.allocContext3(codec);
    enc.width = width;
    enc.height = height;
    enc.pixelFormat = AV_PIX_FMT_YUV420P;
    enc.timeBase = this.#timeBase;
    enc.gopSize = 1_000_000; // keyframes are ours to place
    enc.maxBFrames = 0;
    // One thread per encoder: a codec worker runs many calls, each encoder on its thread.
    enc.threadCount = 1;
    const options: [string, string][] = [
      ['preset', this.#opts.preset], ['tune', 'zerolatency'], ['profile', 'high'], ['forced-idr', '1'], ['sc_threshold', '0'],
    ];
    for (const [k, v] of options) FFmpegError.throwIfError(enc.setOption(k, v), `libx264 ${k}`);
    try {
      FFmpegError.throwIfError(enc.open2Sync(codec, null), 'libx264 open');
    } catch (e) {
      enc.freeContext();
      throw e;
    }
    return enc;
  }

  #drain(out: VideoOut[]): void {
    const enc = this.#encoder;
    const pkt = this.#packet;
    if (enc === undefined || this.#firstPts === undefined) return;
    while (enc.receivePacketSync(pkt) >= 0) {
      const ms = Number(pkt.pts);
      const raw = pkt.data;
      const key = pkt.isKeyframe;
      pkt.unref();
      if (raw === null) continue;
      while (this.#jumps.length > 0 && (this.#jumps[0] as Jump).atMs <= ms) this.#outJumpMs += (this.#jumps.shift() as Jump).ms;
      out.push({ raw, key, ptsMs: this.#firstPts + this.#outJumpMs + ms });
    }
  }
}
