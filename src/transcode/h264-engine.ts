/**
 * VP8 → H.264 with libavcodec (node-av), synchronous: the video codec core a
 * codec worker thread runs (see codec-pool.ts), never the event loop. x264
 * with zerolatency and no B-frames gives one output frame per input frame at
 * once; a keyframe comes every `keyframeIntervalS` of input time (SPEC §5:
 * every 2 s), whatever the frame rate, and at once when asked (a new or
 * reconnected RTMP target). A picture-size change reopens the encoder on a
 * keyframe. A payload the decoder refuses is counted and dropped (then the
 * engine waits for the far end's next keyframe), never thrown.
 *
 * Timing, as the ffmpeg path did it: frame times are the input pts relative
 * to the first frame, strictly increasing, with gaps over 5 s (hold) taken
 * out; output pts are put back on the input clock by adding the first pts
 * and the jumps.
 */
import { Codec, CodecContext, FFmpegError, Frame, Log, Packet, Rational } from 'node-av/lib';
import {
  AV_CODEC_ID_VP8, AV_LOG_QUIET, AV_PICTURE_TYPE_I, AV_PICTURE_TYPE_NONE, AV_PIX_FMT_YUV420P, FF_ENCODER_LIBX264,
} from 'node-av/constants';

Log.setLevel(AV_LOG_QUIET);

const MAX_GAP_MS = 5000;

export interface H264EngineOptions {
  /** x264 preset, e.g. `veryfast`. */
  preset: string;
  keyframeIntervalS: number;
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
  /** Input frames in a pixel format x264 is not given (only yuv420p is). */
  unsupported = 0;
  readonly #opts: H264EngineOptions;
  readonly #decoder: CodecContext;
  #encoder: CodecContext | undefined;
  #size = '';
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

  /** Opens the VP8 decoder (the encoder opens at the first picture, at its size); throws if libavcodec lacks a codec. */
  constructor(opts: H264EngineOptions) {
    this.#opts = opts;
    if (!Codec.findEncoderByName(FF_ENCODER_LIBX264)) throw new Error('libavcodec has no libx264 encoder');
    const dc = Codec.findDecoder(AV_CODEC_ID_VP8);
    if (!dc) throw new Error('libavcodec has no VP8 decoder');
    const dec = new CodecContext();
    dec.allocContext3(dc);
    dec.threadCount = 1;
    FFmpegError.throwIfError(dec.open2Sync(dc, null), 'VP8 decoder open');
    this.#decoder = dec;
    this.#packet.alloc();
    this.#frame.alloc();
  }

  /** The next picture is encoded as an IDR (SPS/PPS in front). */
  requestKeyframe(): void {
    this.#forceKey = true;
  }

  /** One whole VP8 frame with its pts (ms) → the H.264 access units it gives (none until the first keyframe). */
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

  /** What the encoder still holds. */
  flush(): VideoOut[] {
    const out: VideoOut[] = [];
    if (this.#freed || this.#encoder === undefined) return out;
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
    this.#packet.free();
    this.#frame.free();
  }

  #encode(frame: Frame, rel: number, out: VideoOut[]): void {
    if (frame.format !== AV_PIX_FMT_YUV420P) {
      this.unsupported++;
      return;
    }
    const size = `${frame.width}x${frame.height}`;
    if (size !== this.#size) {
      if (this.#encoder !== undefined) {
        this.#encoder.sendFrameSync(null);
        this.#drain(out);
        this.#encoder.freeContext();
        this.#encoder = undefined;
      }
      this.#encoder = this.#openEncoder(frame.width, frame.height);
      this.#size = size;
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
