import type { Logger } from '../shared/logger.js';
import type { MediaFrame, VideoFrame, AudioFrame } from '../shared/media.js';
import {
  avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, onMetaData, parseSps, type FlvTag, type RtmpPublisher,
} from '../rtmp/index.js';
import { AudioTranscoder } from '../transcode/index.js';
import { Interleaver } from './interleaver.js';

export interface MediaOutputOptions {
  log: Logger;
  audioCodec: 'PCMA' | 'PCMU' | null;
  hasVideo: boolean;
  transcode: { ffmpegPath: string; audioBitrate: number; audioSampleRate: number };
}

const NAL_SPS = 7;
const NAL_PPS = 8;
const NAL_AUD = 9;

/**
 * The call's output pipeline (DESIGN §1): H.264 frames become FLV tags as
 * they are; G.711 goes through the AAC transcoder; both are interleaved by
 * timestamp and fanned out to every RTMP target, which share the same tags.
 * Sequence headers and onMetaData are kept so a target that joins later (or
 * reconnects) starts with them.
 */
export class MediaOutput {
  readonly #targets = new Set<RtmpPublisher>();
  readonly #interleaver: Interleaver;
  readonly #transcoder: AudioTranscoder | null;
  readonly #headers: { metadata?: FlvTag; video?: FlvTag; audio?: FlvTag } = {};
  #baseMs: number | undefined;
  #sps: Buffer | undefined;
  #pps: Buffer | undefined;
  #size: { width: number; height: number } | undefined;
  #lastVideoTs = -1;
  #lastAudioTs = -1;
  #closed = false;
  /** Media frames dropped because no decoder configuration was known yet. */
  droppedBeforeConfig = 0;

  constructor(private readonly opts: MediaOutputOptions) {
    this.#interleaver = new Interleaver((t) => this.#send(t), { audio: opts.audioCodec !== null, video: opts.hasVideo });
    if (opts.audioCodec) {
      const t = new AudioTranscoder({
        ffmpegPath: opts.transcode.ffmpegPath,
        inputCodec: opts.audioCodec,
        inputRate: 8000,
        outputRate: opts.transcode.audioSampleRate,
        bitrate: opts.transcode.audioBitrate,
        log: opts.log,
      });
      t.on('config', (asc) => this.#setHeader('audio', aacSequenceHeader(asc)));
      t.on('frame', (raw, ptsMs) => this.#audioTag(raw, ptsMs));
      t.on('exit', (code, signal, crashed) => {
        if (crashed) opts.log.error({ code, signal }, 'audio transcoder exited unexpectedly');
      });
      t.start();
      this.#transcoder = t;
    } else {
      this.#transcoder = null;
    }
    this.#updateMetadata();
  }

  /** PID of the transcoder process, if any (for tests and metrics). */
  get transcoderPid(): number | undefined {
    return this.#transcoder?.pid;
  }

  addTarget(p: RtmpPublisher): void {
    this.#targets.add(p);
    p.setHeaders(this.#headers);
  }

  removeTarget(p: RtmpPublisher): void {
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
    this.#interleaver.flush();
    this.#targets.clear();
    await this.#transcoder?.close();
  }

  #ts(ptsMs: number): number {
    return Math.max(0, Math.round(ptsMs - (this.#baseMs ?? ptsMs)));
  }

  #video(f: VideoFrame): void {
    if (f.codec !== 'H264') return;
    let sps: Buffer | undefined;
    let pps: Buffer | undefined;
    let keep = 0;
    for (const n of f.nalus) {
      const type = (n[0] as number) & 0x1f;
      if (type === NAL_SPS) sps = n;
      else if (type === NAL_PPS) pps = n;
      else if (type !== NAL_AUD) keep++;
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
      const t = (n[0] as number) & 0x1f;
      return t !== NAL_SPS && t !== NAL_PPS && t !== NAL_AUD;
    });
    const ts = Math.max(this.#ts(f.ptsMs), this.#lastVideoTs);
    this.#lastVideoTs = ts;
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
    if (!this.#transcoder || (f.codec !== 'PCMA' && f.codec !== 'PCMU')) return;
    this.#transcoder.write(f.data, f.ptsMs);
  }

  #audioTag(raw: Buffer, ptsMs: number): void {
    if (this.#closed) return;
    const ts = Math.max(this.#ts(ptsMs), this.#lastAudioTs);
    this.#lastAudioTs = ts;
    this.#interleaver.push(aacFrame(raw, ts));
  }

  #updateMetadata(): void {
    this.#setHeader('metadata', onMetaData({
      ...(this.#size ?? {}),
      ...(this.opts.hasVideo ? { videocodecid: 7 } : {}),
      ...(this.opts.audioCodec
        ? { audiocodecid: 10, audiosamplerate: this.opts.transcode.audioSampleRate, audiosamplesize: 16, audiochannels: 1, stereo: false }
        : {}),
      encoder: 'sip-rtmp-gateway',
    }));
  }

  #setHeader(kind: 'metadata' | 'video' | 'audio', tag: FlvTag): void {
    this.#headers[kind] = tag;
    for (const t of this.#targets) t.setHeaders(this.#headers);
  }

  #send(tag: FlvTag): void {
    for (const t of this.#targets) t.write(tag);
  }
}
