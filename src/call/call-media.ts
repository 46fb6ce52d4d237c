import {
  type Logger, TypedEmitter, Scope, AUDIO_CODEC_NAMES, CODECS, VIDEO_CODEC_NAMES,
  type AudioFrame,
} from '../shared/index.js';
import {
  MediaGenerator, RtpSession, packetizeH264, packetizeVp8,
  type GeneratedUnit, type PortAllocator, type RtpSocketPair, type SenderReportInfo, type RtpSessionStats,
} from '../rtp/index.js';
import {
  ALAW_SILENCE, G722_SILENCE_20MS, OPUS_SILENCE_20MS, SPEEX_SILENCE_20MS, ULAW_SILENCE, makeSlateH264, makeSlateVp8, type SlateOptions,
} from '../transcode/index.js';
import type { NegotiatedMedia } from '../sip/index.js';
import { HoldVideo } from './hold-video.js';
import { MediaOutput, type AudioTranscodeConfig } from './media-output.js';
import { SlateLoop, slateFrames } from './slate-loop.js';

/** The black H.264 loop far ends get (SPEC §5 generateMediaForUa): 320×240, 10 fps. */
const FAR_END_SLATE = { fps: 10 };
/** The placeholder video track (SPEC §9.5): 640×360 at 10 fps, black or an image. */
const placeholderSlate = (setting: string): SlateOptions => ({
  width: 640, height: 360, fps: 10, ...(setting === 'black' ? {} : { imagePath: setting }),
});

/**
 * Makes the generated media the configuration will use, once, at start: the
 * first call then has it at once instead of waiting for a codec worker and
 * the encoder. Resolves when it is made, failed (logged; calls log it again
 * when they need it) or `timeoutMs` passed.
 */
export async function warmGeneratedMedia(
  t: Pick<CallMediaTuning, 'generateMediaForUa' | 'placeholderVideo'>, log: Logger, timeoutMs = 10_000,
): Promise<void> {
  const warn = (what: string) => (e: unknown): void => log.warn({ err: (e as Error).message }, `cannot make ${what}`);
  const made: Promise<unknown>[] = [];
  if (t.generateMediaForUa) {
    made.push(makeSlateH264(FAR_END_SLATE).catch(warn('the black H.264 video for far ends')));
    made.push(makeSlateVp8(10).catch(warn('the black VP8 video for far ends')));
  }
  if (t.placeholderVideo !== 'none') made.push(makeSlateH264(placeholderSlate(t.placeholderVideo)).catch(warn('the placeholder video')));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(made), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
}

/** 20 ms of silence per audio codec, for far ends that want media from us (SPEC §5). */
const SILENCE: Record<string, Buffer> = {
  PCMA: Buffer.alloc(160, ALAW_SILENCE),
  PCMU: Buffer.alloc(160, ULAW_SILENCE),
  OPUS: OPUS_SILENCE_20MS,
  G722: G722_SILENCE_20MS,
  SPEEX: SPEEX_SILENCE_20MS,
};

/** Media settings beyond the jitter buffer and the AAC encoder (config `rtp.*`, `transcode.*`); every key has a default. */
export interface CallMediaTuning {
  /** No RTP for this long while not on hold → 'inactive'; 0 disables. Default 60000. */
  rtpActivityTimeoutMs: number;
  /** A lobby after the media starts: no RTP during it is not inactivity (the timeout counts from its end). Default 0. */
  lobbyTimeoutMs: number;
  /** Send silence / black video (and RTCP SR) on the media offered sendrecv. Default true. */
  generateMediaForUa: boolean;
  /** `aac` (default) or `copy` (G.711 / Speex into FLV as they are). */
  audioOutput: 'aac' | 'copy';
  /** x264 preset for video that must be transcoded (VP8). Default `veryfast`. */
  videoPreset: string;
  /** Keyframe interval of transcoded video, seconds. Default 2. */
  keyframeIntervalS: number;
  /** Re-encode the far end's H.264 too (`transcodeVideo`): a fixed keyframe interval, the size cap. Default false. */
  transcodeVideo: boolean;
  /** Largest picture re-encoded video keeps (scaled down to fit, aspect kept); 0: no cap. Default 1920×1080. */
  videoMaxWidth: number;
  videoMaxHeight: number;
  /** Video for a call without incoming video: `none` (default), `black`, or an image file path. */
  placeholderVideo: string;
  /** Accept RTP from any address and send back to it (far ends behind NAT). Default false: the SDP's address only. */
  symmetricLatching: boolean;
}

export interface CallMediaOptions {
  ports: PortAllocator;
  jitterBufferMs: number;
  transcode: AudioTranscodeConfig;
  tuning?: Partial<CallMediaTuning>;
  log: Logger;
}

export interface CallMediaEvents {
  /** Received RFC 4733 digits. */
  dtmf: [digit: string, durationMs: number];
  /** No RTP for rtpActivityTimeoutMs while not on hold: the call ends FAILED_BY_RTP_ACTIVITY. */
  inactive: [];
  /** RTCP keyframe requests went unanswered: ask over SIP INFO picture_fast_update (RFC 5168). */
  keyframeViaSip: [];
}

/**
 * Codecs the media engine of this build receives, by configuration name
 * (`codecs.audio` / `codecs.video`): the offer carries only these, so a far
 * end never picks a codec whose media would be lost.
 */
export const RECEIVABLE_CODECS: { audio: ReadonlySet<string>; video: ReadonlySet<string> } = {
  audio: new Set(AUDIO_CODEC_NAMES),
  video: new Set(VIDEO_CODEC_NAMES),
};
const LIP_SYNC_TOLERANCE_MS = 10;
/** A larger correction means the SRs do not share a clock. */
const LIP_SYNC_MAX_SHIFT_MS = 2000;
/** The same, by SDP encoding name (upper case). */
const RECEIVABLE = {
  audio: new Set(AUDIO_CODEC_NAMES.filter((n) => CODECS[n].frame !== null).map((n) => CODECS[n].encoding.toUpperCase())),
  video: new Set(VIDEO_CODEC_NAMES.map((n) => CODECS[n].encoding.toUpperCase())),
};

/**
 * A call's media side: its RTP port pairs, one RtpSession per accepted
 * m-line, and the output pipeline the sessions feed. Owns the sockets from
 * allocation to close.
 */
export class CallMedia extends TypedEmitter<CallMediaEvents> {
  #sockets: { audio?: RtpSocketPair; video?: RtpSocketPair } = {};
  #sessions: { audio?: RtpSession; video?: RtpSession } = {};
  #audio: NegotiatedMedia | null = null;
  #output: MediaOutput | undefined;
  /** Generated video in the output while the call is on hold (calls with video). */
  #holdVideo: HoldVideo | undefined;
  readonly #generators = new Map<'audio' | 'video', MediaGenerator>();
  /** The negotiated media each session runs with. */
  readonly #current: { audio?: NegotiatedMedia; video?: NegotiatedMedia } = {};
  readonly #tuning: CallMediaTuning;
  #onHold = false;
  /** media clock − sender wall clock (ms), fixed by the first RTCP SR of the call; null before. */
  #ntpOffsetMs: number | null = null;
  /** `Date.now()` from which inactivity is measured when no RTP arrived since (start, resume). */
  #activitySince = 0;
  #activityTimer: NodeJS.Timeout | null = null;
  /** Owns the sockets, sessions, generators, timers and the output; released in reverse order on close. */
  readonly #scope: Scope;

  constructor(private readonly opts: CallMediaOptions) {
    super((event, error) => opts.log.error({ event, err: error }, 'call media listener failed'));
    this.#tuning = {
      rtpActivityTimeoutMs: 60_000, lobbyTimeoutMs: 0, generateMediaForUa: true, audioOutput: 'aac', videoPreset: 'veryfast', keyframeIntervalS: 2, transcodeVideo: false, videoMaxWidth: 1920, videoMaxHeight: 1080,
      placeholderVideo: 'none', symmetricLatching: false,
      ...opts.tuning,
    };
    this.#scope = new Scope((e) => opts.log.warn({ err: e }, 'call media release failed'));
    // Registered first, released last: the output (with its transcoders) once nothing feeds it.
    this.#scope.defer(() => this.#output?.close());
    this.#scope.defer(() => this.#releaseSockets());
    this.#scope.defer(() => {
      for (const s of Object.values(this.#sessions)) s.close();
      this.#sessions = {};
    });
    this.#scope.defer(() => {
      for (const g of this.#generators.values()) g.close();
      this.#generators.clear();
    });
  }

  get #closed(): boolean {
    return this.#scope.closed;
  }

  /**
   * Binds the audio and video RTP/RTCP pairs the SDP offer announces;
   * undefined when the call was closed meanwhile (the pairs are released).
   */
  async allocate(): Promise<{ audioPort: number; videoPort: number } | undefined> {
    const audio = await this.opts.ports.allocate();
    const video = await this.opts.ports.allocate().catch((e: unknown) => {
      audio.close();
      throw e;
    });
    if (this.#closed) {
      audio.close();
      video.close();
      return undefined;
    }
    this.#sockets = { audio, video };
    return { audioPort: audio.rtpPort, videoPort: video.rtpPort };
  }

  /** The answer's media this build can receive; null for a track it cannot. */
  static usable(answer: { audio: NegotiatedMedia | null; video: NegotiatedMedia | null }): { audio: NegotiatedMedia | null; video: NegotiatedMedia | null } {
    const ok = (m: NegotiatedMedia | null, set: Set<string>): NegotiatedMedia | null => (m && set.has(m.codec.name.toUpperCase()) ? m : null);
    return { audio: ok(answer.audio, RECEIVABLE.audio), video: ok(answer.video, RECEIVABLE.video) };
  }

  /** Starts receiving the negotiated media into a new output pipeline. */
  start(audio: NegotiatedMedia | null, video: NegotiatedMedia | null): MediaOutput {
    this.#audio = audio;
    const placeholder = video === null && this.#tuning.placeholderVideo !== 'none';
    const output = new MediaOutput({
      log: this.opts.log,
      audioCodec: audio ? (audio.codec.name.toUpperCase() as AudioFrame['codec']) : null,
      audioClockRate: audio?.codec.clockRate,
      audioOutput: this.#tuning.audioOutput,
      hasVideo: video !== null || placeholder,
      videoCodec: video?.codec.name.toUpperCase() === 'VP8' ? 'VP8' : 'H264',
      video: {
        preset: this.#tuning.videoPreset, keyframeIntervalS: this.#tuning.keyframeIntervalS,
        reencodeH264: this.#tuning.transcodeVideo && video !== null, maxWidth: this.#tuning.videoMaxWidth, maxHeight: this.#tuning.videoMaxHeight,
      },
      transcode: this.opts.transcode,
    });
    this.#output = output;
    for (const [kind, media] of [['audio', audio], ['video', video]] as const) {
      if (media) this.#startSession(kind, media, output);
    }
    this.#armActivityWatch();
    if (placeholder) this.#startPlaceholder(output);
    if (video !== null) {
      const hv = new HoldVideo({
        codec: () => (this.#current.video?.codec.name.toUpperCase() === 'VP8' ? 'VP8' : 'H264'),
        slate: this.#tuning.placeholderVideo === 'none' ? FAR_END_SLATE : placeholderSlate(this.#tuning.placeholderVideo),
        onFrame: (f) => output.onFrame(f),
        requestKeyframe: () => this.#sessions.video?.requestKeyframe('resumed from hold'),
        log: this.opts.log,
      });
      this.#holdVideo = hv;
      this.#scope.defer(() => hv.close());
    }
    return output;
  }

  /**
   * SPEC §5, §9.5: a call whose far end sends no video (an audio-only
   * answer) still gets a video track, so platforms that demand one accept
   * the stream: a pre-encoded black or image loop, 640×360 at 10 fps with a
   * keyframe every 2 s, stamped on the media clock like the audio.
   */
  #startPlaceholder(output: MediaOutput): void {
    const setting = this.#tuning.placeholderVideo;
    const slate = placeholderSlate(setting);
    slateFrames('H264', slate).then((frames) => {
      if (this.#closed) return;
      const loop = new SlateLoop(frames, 'H264', slate.fps ?? 10, (f) => output.onFrame(f));
      this.#scope.defer(() => loop.stop());
      this.opts.log.info({ placeholder: setting }, 'no incoming video: publishing a placeholder video track');
    }, (e: unknown) => this.opts.log.warn({ err: (e as Error).message, placeholder: setting }, 'cannot make the placeholder video'));
  }

  #startSession(kind: 'audio' | 'video', media: NegotiatedMedia, output: MediaOutput): void {
    const sockets = this.#sockets[kind];
    if (!sockets) return;
    const s = new RtpSession({
      kind,
      sockets,
      payloadTypes: media.payloadTypes,
      remote: { host: media.address, rtpPort: media.port, rtcpPort: media.rtcpPort },
      jitterBufferMs: this.opts.jitterBufferMs,
      symmetricLatching: this.#tuning.symmetricLatching,
      log: this.opts.log,
      // The pair outlives a session replaced by a codec change; #releaseSockets closes it.
      ownsSockets: false,
    });
    s.on('frame', (f) => {
      const g = f.kind === 'video' && this.#holdVideo ? this.#holdVideo.filter(f) : f;
      if (g) output.onFrame(g);
    });
    s.on('dtmf', (digit, durationMs) => this.emit('dtmf', digit, durationMs));
    s.on('keyframeViaSip', () => this.emit('keyframeViaSip'));
    s.on('senderReport', (sr) => this.#lipSync(s, sr));
    s.start();
    this.#sessions[kind] = s;
    this.#current[kind] = media;
    if (this.#tuning.generateMediaForUa && (media.direction === 'sendrecv' || media.direction === 'recvonly')) {
      this.#generate(s, media);
    }
  }

  /**
   * Media for far ends that hang up on a silent peer (SPEC §5, §9.4): G.711,
   * Opus, G.722 or Speex silence every 20 ms on audio, a black H.264 or VP8
   * loop at 10 fps on video. The sessions then send RTCP SR instead of RR.
   */
  #generate(s: RtpSession, media: NegotiatedMedia): void {
    const name = media.codec.name.toUpperCase();
    const paused = (): boolean => this.#onHold || s.sendingDtmf;
    const silence = s.kind === 'audio' ? SILENCE[name] : undefined;
    if (silence !== undefined) {
      this.#startGenerator(s, { payloadType: media.codec.pt, units: [[{ payload: silence, marker: false }]], unitMs: 20 }, paused);
    } else if (s.kind === 'video' && (name === 'H264' || name === 'VP8')) {
      slateFrames(name, FAR_END_SLATE).then((frames) => {
        const units: GeneratedUnit[] = frames.map((f) => (name === 'H264' ? packetizeH264(f.nalus) : packetizeVp8(f.nalus[0] as Buffer)));
        if (!this.#closed) this.#startGenerator(s, { payloadType: media.codec.pt, units, unitMs: 100 }, paused);
      }, (e: unknown) => this.opts.log.warn({ err: (e as Error).message, codec: name }, 'cannot make the black video for the far end'));
    } else {
      this.opts.log.info({ kind: s.kind, codec: name }, 'no generated media for this codec');
    }
  }

  #startGenerator(s: RtpSession, stream: ConstructorParameters<typeof MediaGenerator>[1], paused: () => boolean): void {
    if (this.#sessions[s.kind] !== s) return; // replaced while the slate was being made
    this.#generators.get(s.kind)?.close();
    const g = new MediaGenerator(s.sender, stream, paused);
    g.start();
    this.#generators.set(s.kind, g);
    this.opts.log.debug({ kind: s.kind, payloadType: stream.payloadType }, 'generating media for the far end');
  }

  /**
   * Lip sync from RTCP sender reports (RFC 3550 §6.4.1, SPEC §5): both
   * streams of a far end stamp their SRs with one wall clock, so placing
   * every stream at `wall clock + offset` aligns them whatever their
   * arrival or capture delays. The offset is fixed by the first SR (that
   * stream does not move); a stream is moved only when it is off by more
   * than 10 ms, so SR jitter does not wobble the timestamps.
   */
  #lipSync(s: RtpSession, sr: SenderReportInfo): void {
    const now = s.mediaTimeOf(sr.rtpTimestamp);
    if (now === null) return;
    const wallMs = sr.ntpSec * 1000 + (sr.ntpFrac / 0x1_0000_0000) * 1000;
    if (this.#ntpOffsetMs === null) {
      this.#ntpOffsetMs = now - wallMs;
      return;
    }
    const target = wallMs + this.#ntpOffsetMs;
    const shift = Math.abs(target - now);
    if (shift <= LIP_SYNC_TOLERANCE_MS) return;
    if (shift > LIP_SYNC_MAX_SHIFT_MS) {
      // Streams whose SRs come from unrelated clocks (separate senders): keep arrival timing.
      this.opts.log.debug({ kind: s.kind, shiftMs: Math.round(target - now) }, 'RTCP SR clocks disagree: lip sync not applied');
      return;
    }
    this.opts.log.debug({ kind: s.kind, shiftMs: Math.round(target - now) }, 'lip sync from RTCP SR');
    s.reanchor(sr.rtpTimestamp, target);
  }

  /** RTP inactivity (SPEC §5): checked a few times per timeout, never while on hold. */
  #armActivityWatch(): void {
    const timeout = this.#tuning.rtpActivityTimeoutMs;
    if (timeout <= 0 || this.#activityTimer !== null) return;
    this.#activitySince = Date.now() + this.#tuning.lobbyTimeoutMs;
    this.#activityTimer = this.#scope.setInterval(() => {
      if (this.#onHold || this.#closed) return;
      let last = this.#activitySince;
      for (const s of Object.values(this.#sessions)) last = Math.max(last, s.stats.lastPacketAt ?? 0);
      if (Date.now() - last < timeout) return;
      this.#stopActivityWatch();
      this.opts.log.warn({ timeoutMs: timeout, lastPacketAgoMs: Date.now() - last }, 'RTP inactivity');
      this.emit('inactive');
    }, Math.max(50, Math.min(1000, Math.floor(timeout / 4))));
  }

  #stopActivityWatch(): void {
    if (this.#activityTimer !== null) clearInterval(this.#activityTimer);
    this.#activityTimer = null;
  }

  /** Asks the far end for a video keyframe (a new RTMP target or a reconnect needs one). */
  requestKeyframe(reason: string): void {
    // Re-encoded video gets its keyframe from our encoder at once; the far end is asked otherwise.
    if (this.#output?.requestKeyframe() === true) return;
    this.#sessions.video?.requestKeyframe(reason);
  }

  /** The far end put the call on hold (`sendonly`/`inactive`) or resumed it: inactivity is not judged on hold. */
  setOnHold(hold: boolean): void {
    if (hold === this.#onHold) return;
    this.#onHold = hold;
    // Resuming restarts the inactivity clock: the far end gets a full timeout to send again.
    if (!hold) this.#activitySince = Date.now();
    this.#holdVideo?.set(hold);
    this.opts.log.info({ hold }, 'media hold state');
  }

  /**
   * A far-end re-INVITE/UPDATE (or the 2xx after early media) brought new
   * SDP: a new address moves where we send; new payload types or codec
   * replace the stream's session on the same sockets and switch the output's
   * transcoder, and the output continues on the media clock (timestamps stay
   * continuous and monotonic). A new SSRC needs nothing: sessions follow it.
   * An m-line that disappears keeps its session (the far end just stops).
   */
  update(audio: NegotiatedMedia | null, video: NegotiatedMedia | null): void {
    const output = this.#output;
    if (this.#closed || output === undefined) return;
    for (const [kind, media] of [['audio', audio], ['video', video]] as const) {
      const cur = this.#current[kind];
      const s = this.#sessions[kind];
      if (!media || !cur || !s) {
        if (media && !cur) this.opts.log.info({ kind }, 're-INVITE adds a track the output was not built with: ignored');
        continue;
      }
      const sameCodecs = media.codec.name.toUpperCase() === cur.codec.name.toUpperCase() && media.codec.pt === cur.codec.pt
        && JSON.stringify(media.payloadTypes) === JSON.stringify(cur.payloadTypes);
      if (sameCodecs) {
        s.setRemote({ host: media.address, rtpPort: media.port, rtcpPort: media.rtcpPort });
        this.#current[kind] = media;
        continue;
      }
      this.opts.log.info({ kind, from: cur.codec.name, to: media.codec.name }, 'media update: codec change');
      this.#generators.get(kind)?.close();
      this.#generators.delete(kind);
      s.close();
      const name = media.codec.name.toUpperCase();
      if (kind === 'audio') output.setAudioCodec(name as AudioFrame['codec'], media.codec.clockRate);
      else output.setVideoCodec(name === 'VP8' ? 'VP8' : 'H264');
      if (kind === 'audio') this.#audio = media;
      // The new session starts waiting for a keyframe and asks for one with its first packet.
      this.#startSession(kind, media, output);
    }
  }

  get output(): MediaOutput | undefined {
    return this.#output;
  }

  /** Receive statistics per track (null for a track without a session), for metrics and the dashboard. */
  stats(): { audio: Readonly<RtpSessionStats> | null; video: Readonly<RtpSessionStats> | null } {
    return { audio: this.#sessions.audio?.stats ?? null, video: this.#sessions.video?.stats ?? null };
  }

  /** True when RFC 4733 events can be sent (an audio session with telephone-event). */
  get canSendRfc2833(): boolean {
    return this.#sessions.audio !== undefined && this.#audio?.telephoneEventPt !== undefined;
  }

  /** Sends RFC 4733 digits on the audio session. */
  async sendDtmf(digits: string): Promise<void> {
    const pt = this.#audio?.telephoneEventPt;
    if (pt === undefined || !this.#sessions.audio) throw new Error('no telephone-event negotiated');
    await this.#sessions.audio.sendDtmf(digits, pt);
  }

  /** Closes the timers, generators, RTP sessions and sockets, then the output pipeline (transcoders); idempotent. */
  close(): Promise<void> {
    return this.#scope.close();
  }

  #releaseSockets(): void {
    for (const s of Object.values(this.#sockets)) s.close();
    this.#sockets = {};
  }
}
