import {
  type Logger, type MediaFrame, type VideoFrame, type AudioFrame, CODECS, NAL, codecByEncoding, joinAnnexB, nalType, splitAnnexB,
} from '../shared/index.js';
import {
  avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, g711Frame, onMetaData, parseSps, audioSpecificConfig, AAC_SAMPLE_RATES,
  Interleaver, type FlvTag, type FlvSink,
} from '../pipeline/index.js';
import { mediaClockNow } from '../rtp/index.js';
import { AacEncoder, H264Encoder, type AacEncoderChoice } from '../transcode/index.js';
import { AudioGapFiller } from './audio-gap-filler.js';

export interface MediaOutputOptions {
  log: Logger;
  audioCodec: AudioFrame['codec'] | null;
  /** RTP clock rate of the audio codec (8000 for G.711 and G.722, 48000 for Opus, 16000 for Speex wideband). */
  audioClockRate?: number;
  /** `aac` (default) or `copy`: G.711 and 16 kHz Speex go into FLV as they are; other codecs still become AAC. */
  audioOutput?: 'aac' | 'copy';
  hasVideo: boolean;
  /** The incoming video codec; VP8 goes through the in-process video encoder (x264). Default H264. */
  videoCodec?: 'H264' | 'VP8';
  /**
   * x264 settings for re-encoded video; `reencodeH264` sends the far end's
   * H.264 through the encoder too (`transcodeVideo`); `maxWidth`/`maxHeight`
   * cap re-encoded pictures (0: none).
   */
  video?: { preset: string; keyframeIntervalS: number; reencodeH264?: boolean; maxWidth?: number; maxHeight?: number };
  transcode: AudioTranscodeConfig;
}

/** The `transcode.*` keys the audio output uses. */
export interface AudioTranscodeConfig {
  audioBitrate: number;
  audioSampleRate: number;
  /** Default "aac". */
  aacEncoder?: AacEncoderChoice;
}

/** FLV SoundFormat 11 (Speex), 16 kHz implied, 16-bit, mono (FLV spec E.4.2.1). */
const FLV_SPEEX_HEADER = (11 << 4) | 0x02;

/** Whether FLV carries this codec as it is (audio "copy"). */
function flvCarries(codec: AudioFrame['codec'], clockRate: number): boolean {
  const name = codecByEncoding(codec, clockRate);
  return name !== undefined && CODECS[name].flvCopy;
}

/** How often silence for a missing audio track is written, ms. */
const FILL_INTERVAL_MS = 100;


/**
 * The call's output pipeline (DESIGN §1): H.264 frames become FLV tags as
 * they are; G.711 goes through the AAC transcoder; both are interleaved by
 * timestamp and fanned out to every RTMP target, which share the same tags.
 * Sequence headers and onMetaData are kept so a target that joins later (or
 * reconnects) starts with them.
 */
export class MediaOutput {
  readonly #targets = new Set<FlvSink>();
  readonly #interleaver: Interleaver;
  #transcoder: AacEncoder | null = null;
  #videoTranscoder: H264Encoder | null = null;
  /** What the video transcoder is fed. */
  #videoInput: 'H264' | 'VP8' = 'H264';
  /** Audio copied into FLV without a transcoder (audio "copy"). */
  #copyAudio = false;
  #audioCodec: AudioFrame['codec'] | null;
  #audioRate: number;
  /** Transcoders replaced by a codec change, still flushing. */
  readonly #retiring = new Set<Promise<void>>();
  readonly #headers: { metadata?: FlvTag; video?: FlvTag; audio?: FlvTag } = {};
  #baseMs: number | undefined;
  #sps: Buffer | undefined;
  #pps: Buffer | undefined;
  #size: { width: number; height: number } | undefined;
  #lastVideoTs = -1;
  #lastAudioTs = -1;
  /** Silence while the far end sends no audio (none for Speex copied as it is). */
  #filler: AudioGapFiller | null = null;
  readonly #fillTimer: NodeJS.Timeout;
  #closed = false;
  /** Media frames dropped because no decoder configuration was known yet. */
  droppedBeforeConfig = 0;

  constructor(private readonly opts: MediaOutputOptions) {
    // Every output carries an audio track: the far end's, or silence (AAC when none was negotiated).
    this.#interleaver = new Interleaver((t) => this.#send(t), { audio: true, video: opts.hasVideo });
    this.#audioCodec = opts.audioCodec;
    this.#audioRate = opts.audioClockRate ?? 8000;
    this.#startAudio();
    this.#fillTimer = setInterval(() => this.#fillGap(), FILL_INTERVAL_MS);
    if (opts.hasVideo && this.#reencodes(opts.videoCodec ?? 'H264')) this.#startVideoTranscoder(opts.videoCodec ?? 'H264');
    this.#updateMetadata();
  }

  /**
   * The far end changed the audio codec (re-INVITE): the old transcoder
   * flushes, a new one starts; timestamps continue on the media clock and
   * stay monotonic. An output without audio gets none (FLV announced none).
   */
  setAudioCodec(codec: AudioFrame['codec'], clockRate: number): void {
    if (this.#closed || this.#audioCodec === null || (codec === this.#audioCodec && clockRate === this.#audioRate)) return;
    this.opts.log.info({ from: this.#audioCodec, to: codec }, 'audio codec change');
    this.#retire(this.#transcoder);
    this.#transcoder = null;
    this.#audioCodec = codec;
    this.#audioRate = clockRate;
    this.#startAudio();
    this.#updateMetadata();
  }

  /** The far end changed the video codec (re-INVITE): VP8 (and H.264 with `reencodeH264`) goes through a transcoder, H.264 passes. */
  setVideoCodec(codec: 'H264' | 'VP8'): void {
    const reencode = this.#reencodes(codec);
    if (this.#closed || !this.opts.hasVideo || (reencode ? this.#videoTranscoder !== null && this.#videoInput === codec : this.#videoTranscoder === null)) return;
    this.opts.log.info({ to: codec }, 'video codec change');
    this.#retire(this.#videoTranscoder);
    this.#videoTranscoder = null;
    if (reencode) this.#startVideoTranscoder(codec);
  }

  #reencodes(codec: 'H264' | 'VP8'): boolean {
    return codec === 'VP8' || this.opts.video?.reencodeH264 === true;
  }

  #startAudio(): void {
    const codec = this.#audioCodec;
    this.#copyAudio = codec !== null && this.opts.audioOutput === 'copy' && flvCarries(codec, this.#audioRate);
    if (this.#copyAudio) {
      // FLV G.711 / Speex carry no sequence header.
      if (this.#headers.audio) this.#setHeader('audio', undefined);
      this.#filler = codec === 'PCMA' || codec === 'PCMU' ? new AudioGapFiller({ codec }) : null;
      return;
    }
    // AAC from the encoder, or silence alone: the header is known before the first frame
    // (AAC-LC, mono, the output rate: the encoder's own config says the same).
    const rate = this.opts.transcode.audioSampleRate;
    this.#aacConfig(audioSpecificConfig({ objectType: 2, sampleRateIndex: Math.max(0, AAC_SAMPLE_RATES.indexOf(rate)), channels: 1 }));
    this.#filler = new AudioGapFiller({ codec: 'AAC', sampleRate: rate });
    if (codec === null) return;
    // In-process, on a codec worker thread (no ffmpeg child for audio).
    const t = new AacEncoder({
      inputCodec: codec,
      outputRate: rate,
      bitrate: this.opts.transcode.audioBitrate,
      encoder: this.opts.transcode.aacEncoder,
      log: this.opts.log,
    });
    t.on('config', (asc) => {
      if (t === this.#transcoder) this.#aacConfig(asc);
    });
    t.on('frame', (raw, ptsMs) => this.#audioTag(raw, ptsMs));
    t.on('exit', (code, signal, crashed) => {
      if (crashed) this.opts.log.error({ code, signal }, 'audio transcoder exited unexpectedly');
    });
    t.start();
    this.#transcoder = t;
  }

  /** A new AAC AudioSpecificConfig: sent to the targets only when it differs from the current one. */
  #aacConfig(asc: Buffer): void {
    const tag = aacSequenceHeader(asc);
    if (this.#headers.audio?.data.equals(tag.data)) return;
    this.#setHeader('audio', tag);
  }

  /** Writes the silence due on the audio track (see AudioGapFiller). */
  #fillGap(): void {
    if (this.#closed || this.#filler === null || this.#baseMs === undefined) return;
    for (const tag of this.#filler.tick(this.#ts(mediaClockNow()), this.#lastAudioTs)) {
      this.#lastAudioTs = tag.timestamp;
      this.#interleaver.push(tag);
    }
  }

  #startVideoTranscoder(input: 'H264' | 'VP8'): void {
    // Only the track RTMP cannot carry is re-encoded (DESIGN §1), or H.264 when the call asks for it, on a codec worker thread.
    const o = this.opts.video;
    const v = new H264Encoder({
      input, preset: o?.preset ?? 'veryfast', keyframeIntervalS: o?.keyframeIntervalS ?? 2, maxWidth: o?.maxWidth, maxHeight: o?.maxHeight, log: this.opts.log,
    });
    this.#videoInput = input;
    v.on('frame', (raw, ptsMs, key) => {
      if (!this.#closed && v === this.#videoTranscoder) this.#h264({ kind: 'video', codec: 'H264', nalus: splitAnnexB(raw), key, ptsMs });
    });
    v.on('exit', (code, signal, crashed) => {
      if (crashed) this.opts.log.error({ code, signal }, 'video transcoder failed');
    });
    v.start();
    this.#videoTranscoder = v;
  }

  /**
   * A target needs a keyframe: the video encoder makes one at once when this
   * output re-encodes video (true); otherwise (false) only the far end can.
   */
  requestKeyframe(): boolean {
    if (this.#videoTranscoder === null || this.#closed) return false;
    this.#videoTranscoder.requestKeyframe();
    return true;
  }

  /** Lets a replaced transcoder flush what it holds (its frames still go out) and exit. */
  #retire(t: { close(): Promise<void> } | null): void {
    if (t === null) return;
    const p = t.close().catch((e: unknown) => this.opts.log.warn({ err: e }, 'transcoder close failed'));
    this.#retiring.add(p);
    void p.then(() => this.#retiring.delete(p));
  }

  /** Whether the output has a video track (the far end's, or the placeholder). */
  get hasVideo(): boolean {
    return this.opts.hasVideo;
  }

  /** The tracks this output re-encodes in-process right now (audio → AAC, VP8 → H.264). */
  get transcoders(): ('audio' | 'video')[] {
    const running = (t: AacEncoder | H264Encoder | null): boolean => t !== null && t.state === 'running';
    return [...(running(this.#transcoder) ? ['audio' as const] : []), ...(running(this.#videoTranscoder) ? ['video' as const] : [])];
  }

  addTarget(p: FlvSink): void {
    this.#targets.add(p);
    p.setHeaders(this.#headers);
  }

  removeTarget(p: FlvSink): void {
    this.#targets.delete(p);
  }

  onFrame(frame: MediaFrame): void {
    if (this.#closed) return;
    if (this.#baseMs === undefined) this.#baseMs = frame.ptsMs;
    if (frame.kind === 'video') this.#video(frame);
    else this.#audio(frame);
  }

  /** Ends the transcoder and flushes held tags; the targets are closed by their owner. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#fillTimer);
    this.#interleaver.flush();
    this.#targets.clear();
    await Promise.all([this.#transcoder?.close(), this.#videoTranscoder?.close(), ...this.#retiring]);
  }

  #ts(ptsMs: number): number {
    return Math.max(0, Math.round(ptsMs - (this.#baseMs ?? ptsMs)));
  }

  #video(f: VideoFrame): void {
    const t = this.#videoTranscoder;
    if (f.codec === 'VP8') t?.write(f.nalus[0] as Buffer, f.key, f.ptsMs);
    else if (t === null) this.#h264(f);
    else if (this.#videoInput === 'H264') t.write(joinAnnexB(f.nalus), f.key, f.ptsMs);
  }

  #h264(f: VideoFrame): void {
    let sps: Buffer | undefined;
    let pps: Buffer | undefined;
    let keep = 0;
    for (const n of f.nalus) {
      const type = nalType(n);
      if (type === NAL.SPS) sps = n;
      else if (type === NAL.PPS) pps = n;
      else if (type !== NAL.AUD) keep++;
    }
    if ((sps && !sps.equals(this.#sps ?? Buffer.alloc(0))) || (pps && !pps.equals(this.#pps ?? Buffer.alloc(0)))) {
      this.#sps = sps ?? this.#sps;
      this.#pps = pps ?? this.#pps;
      if (this.#sps && this.#pps) this.#newVideoConfig(this.#sps, this.#pps);
    }
    if (!this.#headers.video || keep === 0) {
      this.droppedBeforeConfig++;
      return;
    }
    // Parameter sets travel in the sequence header; AUDs are not carried in FLV.
    const nalus = keep === f.nalus.length ? f.nalus : f.nalus.filter((n) => {
      const t = nalType(n);
      return t !== NAL.SPS && t !== NAL.PPS && t !== NAL.AUD;
    });
    const ts = Math.max(this.#ts(f.ptsMs), this.#lastVideoTs);
    this.#lastVideoTs = ts;
    this.#filler?.onVideo(ts, this.#ts(mediaClockNow()));
    this.#interleaver.push(avcFrame(nalus, f.key, 0, ts));
  }

  #newVideoConfig(sps: Buffer, pps: Buffer): void {
    try {
      const info = parseSps(sps);
      this.#size = { width: info.width, height: info.height };
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'cannot read the SPS picture size');
    }
    this.#setHeader('video', avcSequenceHeader(sps, pps));
    this.#updateMetadata();
  }

  #audio(f: AudioFrame): void {
    if (f.codec !== this.#audioCodec) return;
    if (this.#copyAudio) {
      const ts = this.#nextAudioTs(f.ptsMs);
      this.#lastAudioTs = ts;
      this.#filler?.onRealAudio(this.#ts(mediaClockNow()));
      if (f.codec === 'SPEEX') {
        const b = Buffer.allocUnsafe(1 + f.data.length);
        b[0] = FLV_SPEEX_HEADER;
        f.data.copy(b, 1);
        this.#interleaver.push({ type: 'audio', timestamp: ts, data: b, key: true });
      } else {
        this.#interleaver.push(g711Frame(f.data, f.codec as 'PCMA' | 'PCMU', ts));
      }
      return;
    }
    this.#transcoder?.write(f.data, f.ptsMs);
  }

  #audioTag(raw: Buffer, ptsMs: number): void {
    if (this.#closed) return;
    const ts = this.#nextAudioTs(ptsMs);
    this.#lastAudioTs = ts;
    this.#filler?.onRealAudio(this.#ts(mediaClockNow()));
    this.#interleaver.push(aacFrame(raw, ts));
  }

  /**
   * The FLV timestamp of the next real audio tag: strictly after the last one,
   * so audio that arrives just after generated silence (stamped behind the
   * video on a loaded machine) never repeats a timestamp.
   */
  #nextAudioTs(ptsMs: number): number {
    return Math.max(this.#ts(ptsMs), this.#lastAudioTs + 1);
  }

  #updateMetadata(): void {
    this.#setHeader('metadata', onMetaData({
      ...(this.#size ?? {}),
      ...(this.opts.hasVideo ? { videocodecid: 7 } : {}),
      audiocodecid: this.#copyAudio ? ({ PCMA: 7, PCMU: 8, SPEEX: 11 } as Record<string, number>)[this.#audioCodec ?? ''] : 10,
      audiosamplerate: this.#copyAudio ? this.#audioRate : this.opts.transcode.audioSampleRate,
      audiosamplesize: 16, audiochannels: 1, stereo: false,
      encoder: 'sip-rtmp-gateway',
    }));
  }

  #setHeader(kind: 'metadata' | 'video' | 'audio', tag: FlvTag | undefined): void {
    if (tag === undefined) delete this.#headers[kind];
    else this.#headers[kind] = tag;
    for (const t of this.#targets) t.setHeaders(this.#headers);
  }

  #send(tag: FlvTag): void {
    for (const t of this.#targets) t.write(tag);
  }
}
