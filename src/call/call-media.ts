import type { Logger } from '../shared/logger.js';
import { TypedEmitter } from '../shared/emitter.js';
import { RtpSession, type PortAllocator, type RtpSocketPair } from '../rtp/index.js';
import type { NegotiatedMedia } from '../sip/index.js';
import { MediaOutput } from './media-output.js';

export interface CallMediaOptions {
  ports: PortAllocator;
  jitterBufferMs: number;
  transcode: { ffmpegPath: string; audioBitrate: number; audioSampleRate: number };
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
  audio: new Set(['pcma', 'pcmu', 'telephone-event']),
  video: new Set(['h264']),
};
/** The same, by SDP encoding name (upper case). */
const RECEIVABLE = { audio: new Set(['PCMA', 'PCMU']), video: new Set(['H264']) };

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
  #closed = false;

  constructor(private readonly opts: CallMediaOptions) {
    super((event, error) => opts.log.error({ event, err: error }, 'call media listener failed'));
  }

  /** Binds the audio and video RTP/RTCP pairs the SDP offer announces. */
  async allocate(): Promise<{ audioPort: number; videoPort: number }> {
    this.#sockets.audio = await this.opts.ports.allocate();
    this.#sockets.video = await this.opts.ports.allocate();
    if (this.#closed) this.#releaseSockets();
    return { audioPort: this.#sockets.audio.rtpPort, videoPort: this.#sockets.video.rtpPort };
  }

  /** The answer's media this build can receive; null for a track it cannot. */
  static usable(answer: { audio: NegotiatedMedia | null; video: NegotiatedMedia | null }): { audio: NegotiatedMedia | null; video: NegotiatedMedia | null } {
    const ok = (m: NegotiatedMedia | null, set: Set<string>): NegotiatedMedia | null => (m && set.has(m.codec.name.toUpperCase()) ? m : null);
    return { audio: ok(answer.audio, RECEIVABLE.audio), video: ok(answer.video, RECEIVABLE.video) };
  }

  /** Starts receiving the negotiated media into a new output pipeline. */
  start(audio: NegotiatedMedia | null, video: NegotiatedMedia | null): MediaOutput {
    this.#audio = audio;
    const output = new MediaOutput({
      log: this.opts.log,
      audioCodec: audio ? (audio.codec.name.toUpperCase() as 'PCMA' | 'PCMU') : null,
      hasVideo: video !== null,
      transcode: this.opts.transcode,
    });
    this.#output = output;
    for (const [kind, media] of [['audio', audio], ['video', video]] as const) {
      const sockets = this.#sockets[kind];
      if (!media || !sockets) continue;
      const s = new RtpSession({
        kind,
        sockets,
        payloadTypes: media.payloadTypes,
        remote: { host: media.address, rtpPort: media.port, rtcpPort: media.rtcpPort },
        jitterBufferMs: this.opts.jitterBufferMs,
        log: this.opts.log,
      });
      s.on('frame', (f) => output.onFrame(f));
      s.on('dtmf', (digit, durationMs) => this.emit('dtmf', digit, durationMs));
      s.start();
      this.#sessions[kind] = s;
    }
    return output;
  }

  /** Asks the far end for a video keyframe (a new RTMP target or a reconnect needs one). */
  requestKeyframe(reason: string): void {
    this.#sessions.video?.requestKeyframe(reason);
  }

  /** The far end put the call on hold (`sendonly`/`inactive`) or resumed it: inactivity is not judged on hold. */
  setOnHold(hold: boolean): void {
    this.opts.log.info({ hold }, 'media hold state');
  }

  /**
   * A far-end re-INVITE/UPDATE brought new SDP (new port, codec or SSRC):
   * the output stream continues without a break. Today: the remote address is
   * learned from the packets; codec changes are not followed yet.
   */
  update(audio: NegotiatedMedia | null, video: NegotiatedMedia | null): void {
    this.opts.log.info({ audio: audio?.codec.name ?? null, video: video?.codec.name ?? null }, 'media update from re-INVITE (not applied yet)');
  }

  get output(): MediaOutput | undefined {
    return this.#output;
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

  /** Closes RTP (sessions and sockets), then the output pipeline (transcoder). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of Object.values(this.#sessions)) s.close();
    this.#sessions = {};
    this.#releaseSockets();
    await this.#output?.close().catch((e: unknown) => this.opts.log.warn({ err: e }, 'output close failed'));
  }

  #releaseSockets(): void {
    for (const s of Object.values(this.#sockets)) s.close();
    this.#sockets = {};
  }
}
