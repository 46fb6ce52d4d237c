/**
 * Audio → AAC with libavcodec (node-av), synchronous: the codec core that a
 * codec worker thread runs (see codec-pool.ts), never the event loop. G.711
 * is decoded here (a table per sample); G.722, Opus and Speex by libavcodec;
 * everything is resampled to the output rate, mono, and encoded AAC-LC. A
 * payload the decoder refuses is counted and dropped, never thrown.
 *
 * Timing, as the ffmpeg path did it: each packet's pts places it on the
 * input timeline; gaps up to {@link MAX_FILL_MS} are filled with silence so
 * the encoder's sample count stays equal to input time, late or overlapping
 * input is trimmed, and longer gaps (hold) become a recorded jump. The
 * encoder primes with one frame (its packets' pts are below zero): dropped,
 * so each frame's pts is the input time of its first sample.
 */
import { Codec, CodecContext, FFmpegError, Frame, Log, Packet, Rational, SoftwareResampleContext, type ChannelLayout } from 'node-av/lib';
import {
  AV_CH_LAYOUT_MONO, AV_CHANNEL_ORDER_NATIVE, AV_CODEC_FLAG_GLOBAL_HEADER, AV_CODEC_ID_ADPCM_G722, AV_CODEC_ID_OPUS, AV_CODEC_ID_SPEEX, AV_LOG_QUIET,
  AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_S16, FF_ENCODER_AAC, type AVCodecID, type AVSampleFormat,
} from 'node-av/constants';
import type { AudioFrameCodec } from '../shared/index.js';
import { audioSpecificConfig, AAC_SAMPLE_RATES } from '../pipeline/index.js';
import { decodeG711 } from './g711.js';

const MONO: ChannelLayout = { nbChannels: 1, order: AV_CHANNEL_ORDER_NATIVE, mask: AV_CH_LAYOUT_MONO };

// libavcodec's own log goes to stderr line by line (one per bad packet of a
// stranger's stream): silenced; what matters is counted and logged by the call.
Log.setLevel(AV_LOG_QUIET);

const AAC_FRAME_SAMPLES = 1024;
/** Gaps up to this long are filled with silence; longer ones become a pts jump. */
const MAX_FILL_MS = 5000;
/** Differences up to 1 ms are clock jitter, not gaps. */
const TOLERANCE_MS = 1;

/**
 * Peak below which a block is written as digital silence (−66 dBFS: G.711's
 * idle pattern decodes to ±8 of 32768). The AAC encoder spends 3–8× more CPU
 * on such near-silence than on zeros or on speech (measured); nobody hears it.
 */
const SILENCE_PEAK = 16 / 32768;

/** Zeroes a block (fltp or s16 mono) whose peak is under {@link SILENCE_PEAK}; returns it. */
function snapSilence(b: Buffer, format: AVSampleFormat): Buffer {
  if (format === AV_SAMPLE_FMT_S16) {
    const s = new Int16Array(b.buffer, b.byteOffset, b.length / 2);
    const peak = SILENCE_PEAK * 32768;
    for (let i = 0; i < s.length; i++) if (Math.abs(s[i] as number) >= peak) return b;
  } else {
    const f = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < f.length; i++) if (Math.abs(f[i] as number) >= SILENCE_PEAK) return b;
  }
  return b.fill(0);
}

/** The AAC encoders libavcodec may have, what sample format each takes and how it is set up. */
const ENCODERS = {
  // The "fast" coder: 3–7× less CPU than "twoloop" on voice (measured, docs/benchmarks.md), the
  // difference inaudible at 64 kbit/s mono speech.
  aac: { name: FF_ENCODER_AAC as string, format: AV_SAMPLE_FMT_FLTP, bytes: 4, options: { aac_coder: 'fast' } },
  // Fraunhofer FDK AAC without its afterburner (the extra analysis-by-synthesis pass): about half
  // the CPU of "aac"/fast per frame (measured, docs/benchmarks.md).
  libfdk_aac: { name: 'libfdk_aac', format: AV_SAMPLE_FMT_S16, bytes: 2, options: { afterburner: '0' } },
} satisfies Record<string, { name: string; format: AVSampleFormat; bytes: number; options: Record<string, string> }>;

export type AacEncoderName = keyof typeof ENCODERS;
/** A configured encoder: "auto" is libfdk_aac when libavcodec has it, else aac. */
export type AacEncoderChoice = AacEncoderName | 'auto';

/** Whether libavcodec (node-av's build) has this AAC encoder. */
export function hasAacEncoder(name: AacEncoderName): boolean {
  return Codec.findEncoderByName(ENCODERS[name].name as typeof FF_ENCODER_AAC) !== null;
}

function resolveEncoder(choice: AacEncoderChoice = 'aac'): AacEncoderName {
  if (choice !== 'auto') return choice;
  return hasAacEncoder('libfdk_aac') ? 'libfdk_aac' : 'aac';
}

/** libavcodec decoders for what G.711's table does not cover. */
const DECODERS: Partial<Record<AudioFrameCodec, { id: AVCodecID; rate: number }>> = {
  G722: { id: AV_CODEC_ID_ADPCM_G722, rate: 16000 },
  OPUS: { id: AV_CODEC_ID_OPUS, rate: 48000 },
  SPEEX: { id: AV_CODEC_ID_SPEEX, rate: 16000 },
};

export interface AacEngineOptions {
  inputCodec: AudioFrameCodec;
  /** AAC sample rate, e.g. 48000. */
  outputRate: number;
  /** AAC bit rate in bit/s, e.g. 64000. */
  bitrate: number;
  /** libavcodec's encoder (default "aac"). */
  encoder?: AacEncoderChoice;
}

/** One AAC access unit with its pts (ms, on the input's clock). */
export interface AacOut {
  raw: Buffer;
  ptsMs: number;
}

interface Jump {
  /** Output sample at which it happened. */
  at: number;
  ms: number;
}

/** One call's audio → AAC, synchronous. */
export class AacEngine {
  /** The AudioSpecificConfig (AAC-LC, mono, the output rate). */
  readonly asc: Buffer;
  /** Payloads the decoder refused. */
  decodeErrors = 0;
  readonly #opts: AacEngineOptions;
  readonly #encoder: CodecContext;
  readonly #decoder: CodecContext | undefined;
  #resampler: SoftwareResampleContext | undefined;
  readonly #packet = new Packet();
  /** Decoded frames land here. */
  readonly #frame = new Frame();
  /**
   * The one frame every AAC input is copied into (made writable again each
   * time: the encoder may still hold the last one). A frame made per encode
   * (Frame.fromAudioBuffer) leaks its buffer in node-av 6.1 even when freed:
   * about 1–4 KB per frame, measured.
   */
  readonly #input = new Frame();
  readonly #timeBase: Rational;
  /** The encoder's input sample format (fltp or s16, mono) and bytes per sample. */
  readonly #format: AVSampleFormat;
  readonly #bps: number;
  readonly #frameBytes: number;
  /** The AAC frame being filled (output-rate samples in the encoder's format; copied into {@link #input}). */
  readonly #frameBuf: Buffer;
  #filled = 0;
  /** Whole frames given to the encoder. */
  #frames = 0;
  #firstPts: number | undefined;
  #jumpMs = 0;
  readonly #jumps: Jump[] = [];
  #outJumpMs = 0;
  #freed = false;

  /** Opens the encoder (and decoder); throws on a rate or codec libavcodec does not have. */
  constructor(opts: AacEngineOptions) {
    this.#opts = opts;
    const rateIndex = AAC_SAMPLE_RATES.indexOf(opts.outputRate);
    if (rateIndex < 0) throw new RangeError(`AAC: no sample rate index for ${opts.outputRate}`);
    const spec = ENCODERS[resolveEncoder(opts.encoder)];
    const codec = Codec.findEncoderByName(spec.name as typeof FF_ENCODER_AAC);
    if (!codec) throw new Error(`libavcodec has no ${spec.name} encoder`);
    this.#format = spec.format;
    this.#bps = spec.bytes;
    this.#frameBytes = AAC_FRAME_SAMPLES * spec.bytes;
    this.#frameBuf = Buffer.alloc(this.#frameBytes);
    const enc = new CodecContext();
    enc.allocContext3(codec);
    enc.sampleRate = opts.outputRate;
    enc.sampleFormat = spec.format;
    enc.channelLayout = MONO;
    enc.bitRate = BigInt(opts.bitrate);
    this.#timeBase = new Rational(1, opts.outputRate);
    enc.timeBase = this.#timeBase;
    // Raw access units (the configuration out of band, in the sequence header): without this flag
    // libfdk_aac frames each packet as ADTS, which FLV and our HLS muxer (adding its own ADTS) must not get.
    enc.setFlags(AV_CODEC_FLAG_GLOBAL_HEADER);
    for (const [k, v] of Object.entries(spec.options)) FFmpegError.throwIfError(enc.setOption(k, v), `${spec.name} option ${k}`);
    FFmpegError.throwIfError(enc.open2Sync(codec, null), `${spec.name} encoder open`);
    this.#encoder = enc;
    const d = DECODERS[opts.inputCodec];
    if (d !== undefined) {
      const dc = Codec.findDecoder(d.id);
      if (!dc) throw new Error(`libavcodec has no ${opts.inputCodec} decoder`);
      const dec = new CodecContext();
      dec.allocContext3(dc);
      dec.sampleRate = d.rate;
      dec.channelLayout = MONO;
      FFmpegError.throwIfError(dec.open2Sync(dc, null), `${opts.inputCodec} decoder open`);
      this.#decoder = dec;
    }
    this.#packet.alloc();
    this.#frame.alloc();
    this.#input.alloc();
    this.#input.nbSamples = AAC_FRAME_SAMPLES;
    this.#input.format = spec.format;
    this.#input.sampleRate = opts.outputRate;
    this.#input.channelLayout = MONO;
    this.#input.timeBase = this.#timeBase;
    FFmpegError.throwIfError(this.#input.allocBuffer(), 'AAC input frame');
    this.asc = audioSpecificConfig({ objectType: 2, sampleRateIndex: rateIndex, channels: 1 });
  }

  /** One RTP payload with its pts (ms) → the AAC frames completed by it. A payload the decoder refuses is counted. */
  write(data: Buffer, ptsMs: number): AacOut[] {
    if (this.#freed) return [];
    let pcm: Buffer[];
    try {
      pcm = this.#decode(data);
    } catch {
      this.decodeErrors++;
      return [];
    }
    const out: AacOut[] = [];
    for (const p of pcm) this.#place(p, ptsMs, out);
    return out;
  }

  /** Output samples on the encoder's timeline so far (including silence). */
  get #samples(): number {
    return this.#frames * AAC_FRAME_SAMPLES + this.#filled / this.#bps;
  }

  /** The last samples (padded to a frame) and what the encoder still holds. */
  flush(): AacOut[] {
    if (this.#freed) return [];
    const out: AacOut[] = [];
    if (this.#filled > 0) this.#append(null, this.#frameBytes - this.#filled, out);
    this.#encode(null, out);
    return out;
  }

  /** Frees the codecs; idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#encoder.freeContext();
    this.#decoder?.freeContext();
    this.#resampler?.free();
    this.#packet.free();
    this.#frame.free();
    this.#input.free();
  }

  /** Output-rate fltp samples of one payload (a decoder may give several frames). */
  #decode(data: Buffer): Buffer[] {
    const dec = this.#decoder;
    if (dec === undefined) {
      const pcm = decodeG711(data, this.#opts.inputCodec === 'PCMA' ? 'PCMA' : 'PCMU');
      return [this.#resample(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), pcm.length, AV_SAMPLE_FMT_S16, 8000)];
    }
    const pkt = this.#packet;
    pkt.data = data;
    const sent = dec.sendPacketSync(pkt);
    pkt.unref();
    FFmpegError.throwIfError(sent, 'decode');
    const out: Buffer[] = [];
    const frame = this.#frame;
    while (dec.receiveFrameSync(frame) >= 0) {
      const planes = frame.data;
      if (planes !== null) out.push(this.#resample(planes, frame.nbSamples, frame.format as AVSampleFormat, frame.sampleRate, frame.channelLayout));
      frame.unref();
    }
    return out;
  }

  #resample(
    input: Buffer | Buffer[], samples: number, format: AVSampleFormat, rate: number, layout: ChannelLayout = MONO,
  ): Buffer {
    if (this.#resampler === undefined) {
      const swr = new SoftwareResampleContext();
      FFmpegError.throwIfError(swr.allocSetOpts2(MONO, this.#format, this.#opts.outputRate, layout, format, rate), 'resampler');
      FFmpegError.throwIfError(swr.init(), 'resampler init');
      this.#resampler = swr;
    }
    const max = Math.ceil((samples * this.#opts.outputRate) / rate) + 64;
    const out = Buffer.allocUnsafe(max * this.#bps);
    const n = this.#resampler.convertSync([out], max, Array.isArray(input) ? input : [input], samples);
    FFmpegError.throwIfError(n, 'resample');
    return snapSilence(out.subarray(0, n * this.#bps), this.#format);
  }

  /** Appends `pcm` at its place on the timeline: silence before it, its overlap trimmed, or a jump. */
  #place(pcm: Buffer, ptsMs: number, out: AacOut[]): void {
    const rate = this.#opts.outputRate;
    if (this.#firstPts === undefined) this.#firstPts = ptsMs;
    const expectedMs = this.#firstPts + this.#jumpMs + (this.#samples * 1000) / rate;
    const offsetMs = ptsMs - expectedMs;
    let skip = 0;
    if (offsetMs > TOLERANCE_MS) {
      if (offsetMs <= MAX_FILL_MS) this.#append(null, Math.round((offsetMs * rate) / 1000) * this.#bps, out);
      else {
        this.#jumpMs += offsetMs;
        this.#jumps.push({ at: this.#samples, ms: offsetMs });
      }
    } else if (offsetMs < -TOLERANCE_MS) {
      skip = Math.round((-offsetMs * rate) / 1000) * this.#bps;
      if (skip >= pcm.length) return; // entirely before what is already there
    }
    this.#append(pcm.subarray(skip), pcm.length - skip, out);
  }

  /** Copies `bytes` of `b` (null: silence) into the frame being filled; encodes each frame it completes. */
  #append(b: Buffer | null, bytes: number, out: AacOut[]): void {
    for (let o = 0; o < bytes;) {
      const n = Math.min(bytes - o, this.#frameBytes - this.#filled);
      if (b === null) this.#frameBuf.fill(0, this.#filled, this.#filled + n);
      else b.copy(this.#frameBuf, this.#filled, o, o + n);
      this.#filled += n;
      o += n;
      if (this.#filled === this.#frameBytes) {
        this.#encode(this.#frameBuf, out);
        this.#filled = 0;
      }
    }
  }

  /** Encodes one frame (or flushes with null) and collects what comes out. */
  #encode(chunk: Buffer | null, out: AacOut[]): void {
    const enc = this.#encoder;
    const rate = this.#opts.outputRate;
    let frame: Frame | null = null;
    if (chunk !== null) {
      frame = this.#input;
      FFmpegError.throwIfError(frame.makeWritable(), 'AAC input frame');
      FFmpegError.throwIfError(frame.fromBuffer(chunk), 'AAC input frame');
      frame.pts = BigInt(this.#frames++ * AAC_FRAME_SAMPLES);
    }
    FFmpegError.throwIfError(enc.sendFrameSync(frame), 'encode');
    const pkt = this.#packet;
    while (enc.receivePacketSync(pkt) >= 0) {
      const start = Number(pkt.pts);
      const raw = pkt.data;
      pkt.unref();
      if (start < 0 || raw === null || this.#firstPts === undefined) continue;
      while (this.#jumps.length > 0 && (this.#jumps[0] as Jump).at <= start) this.#outJumpMs += (this.#jumps.shift() as Jump).ms;
      out.push({ raw, ptsMs: this.#firstPts + this.#outJumpMs + (start * 1000) / rate });
    }
  }
}
