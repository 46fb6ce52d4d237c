import type dgram from 'node:dgram';
import { InvalidStateError, ParseError, ValidationError, TypedEmitter, type Logger, type AudioFrame, type MediaFrame } from '../shared/index.js';
import { DtmfReceiver, isValidDtmfString } from './dtmf.js';
import { DtmfSender } from './dtmf-sender.js';
import { H264Depacketizer } from './h264-depacketizer.js';
import { Vp8Depacketizer } from './vp8-depacketizer.js';
import { JitterBuffer } from './jitter-buffer.js';
import { KeyframeRequester } from './keyframe-requester.js';
import { mediaClockNow, RtpTimestampMapper } from './media-clock.js';
import { NackTracker } from './nack-tracker.js';
import { buildPayloadRoutes, type PayloadRoute } from './payload-routes.js';
import { ReceiveStats } from './receive-stats.js';
import { parseRtcpCompound } from './rtcp.js';
import { RtcpReporter } from './rtcp-reporter.js';
import { looksLikeRtcp, parseRtpPacket, type RtpPacketView } from './rtp-packet.js';
import { RtpSender } from './rtp-sender.js';
import { SourceLatch } from './source-latch.js';
import type { RemoteRtpAddress, RtpSessionOptions, RtpSessionStats, SenderReportInfo } from './session-types.js';

/** The keyframe watchdog stops when no RTP arrived for this long. */
const STREAM_IDLE_MS = 2000;
/** The latched RTP source may move (a new port, a far end behind NAT re-mapped) once it has been silent this long. */
const RELATCH_AFTER_MS = 2000;
/** First NACK of a missing video packet after this share of the jitter buffer depth (reordering heals first). */
const NACK_DELAY_SHARE = 0.4;

/**
 * One received RTP stream (audio or video) on a socket pair: jitter buffer,
 * depacketizing, RTCP receiver reports and keyframe requests, RFC 4733 DTMF in
 * and out.
 */
export class RtpSession extends TypedEmitter<{
  frame: [frame: MediaFrame];
  dtmf: [digit: string, durationMs: number];
  keyframeNeeded: [];
  /** PLI/FIR went unanswered for seconds: ask over SIP INFO (RFC 5168). */
  keyframeViaSip: [];
  senderReport: [sr: SenderReportInfo];
}> {
  readonly kind: 'audio' | 'video';
  /** The outgoing stream (DTMF now, generated media later). */
  readonly sender: RtpSender;
  readonly #opts: RtpSessionOptions;
  readonly #log: Logger;
  readonly #routes: readonly PayloadRoute[];
  readonly #known: readonly boolean[];
  readonly #rtcp: RtcpReporter;
  readonly #jb: JitterBuffer<RtpPacketView>;
  readonly #rx: ReceiveStats;
  readonly #mappers = new Map<number, RtpTimestampMapper>();
  readonly #primaryClock: number;
  readonly #h264: H264Depacketizer | null;
  readonly #vp8: Vp8Depacketizer | null;
  readonly #dtmfRx: DtmfReceiver;
  readonly #dtmfTx: DtmfSender;
  readonly #keyframes: KeyframeRequester;
  readonly #abort = new AbortController();
  #remote: RemoteRtpAddress | null;
  /** The one RTP source accepted; with symmetric RTP (any address, for NAT) RTP and RTCP go back to where it sends from. */
  readonly #latch: SourceLatch;
  #rtcpLatched = false;
  #ssrc: number | null = null;
  #lastSr: SenderReportInfo | null = null;
  /** The counters of {@link stats} that are plain counts. */
  readonly #n = { packets: 0, bytes: 0, discarded: 0, unexpectedPayloadType: 0, foreign: 0, pliSent: 0, firSent: 0, nackSent: 0 };
  #unexpectedPtLogged = false;
  #lastPacketAt: number | null = null;
  #lastPacketMedia = -Infinity;
  readonly #nacks: NackTracker;
  #nackTimer: NodeJS.Timeout | null = null;
  #jbTimer: NodeJS.Timeout | null = null;
  #started = false;
  #closed = false;

  constructor(opts: RtpSessionOptions) {
    super((event, error) => opts.log.error({ err: error, event }, 'RTP session listener threw'));
    this.kind = opts.kind;
    this.#opts = opts;
    this.#log = opts.log;
    this.#remote = opts.remote === null ? null : { ...opts.remote };
    this.#latch = new SourceLatch(opts.remote === null || opts.symmetricLatching === true, RELATCH_AFTER_MS);
    const { routes, known, primaryClock, dtmfClock } = buildPayloadRoutes(opts.kind, opts.payloadTypes);
    this.#routes = routes;
    this.#known = known;
    this.#primaryClock = primaryClock;
    this.#rx = new ReceiveStats(primaryClock);
    this.#jb = new JitterBuffer<RtpPacketView>({ delayMs: opts.jitterBufferMs ?? 100 }, this.#onReleased);
    this.#nacks = new NackTracker({ delayMs: Math.max(5, (opts.jitterBufferMs ?? 100) * NACK_DELAY_SHARE), retryMs: 40, maxTries: 2 });
    this.#h264 = opts.kind === 'video'
      ? new H264Depacketizer({ frame: this.#onH264Frame, keyframeNeeded: this.#onKeyframeNeeded })
      : null;
    this.#vp8 = opts.kind === 'video'
      ? new Vp8Depacketizer({ frame: this.#onVp8Frame, keyframeNeeded: this.#onKeyframeNeeded })
      : null;
    this.#dtmfRx = new DtmfReceiver(dtmfClock, (digit, ms) => this.emit('dtmf', digit, ms));
    this.sender = new RtpSender(opts.sockets.rtp, primaryClock, this.#rtpTarget);
    this.#rtcp = new RtcpReporter({
      kind: opts.kind, socket: opts.sockets.rtcp, sender: this.sender, log: opts.log, ...(opts.cname !== undefined ? { cname: opts.cname } : {}),
      remote: () => this.#remote,
      reportBlocks: () => (this.#rx.initialized ? [this.#rx.makeReportBlock(mediaClockNow())] : []),
    });
    this.#dtmfTx = new DtmfSender(this.sender, this.#abort.signal);
    this.#keyframes = new KeyframeRequester({
      send: (pli, fir) => this.#ssrc !== null && this.#rtcp.sendKeyframeRequest(this.#ssrc, pli, fir),
      streamActive: () => mediaClockNow() - this.#lastPacketMedia < STREAM_IDLE_MS,
      sent: (kind, reason) => {
        if (kind === 'pli') this.#n.pliSent++;
        else this.#n.firSent++;
        this.#log.debug({ kind, reason }, 'keyframe requested');
      },
      viaSip: (reason) => {
        this.#log.info({ reason }, 'keyframe requests over RTCP unanswered: asking over SIP');
        this.emit('keyframeViaSip');
      },
    });
  }

  /** The remote address in use (given, or learnt), null while unknown. */
  get remote(): RemoteRtpAddress | null {
    return this.#remote === null ? null : { ...this.#remote };
  }

  /** True while RFC 4733 event packets are being sent (generated audio pauses). */
  get sendingDtmf(): boolean {
    return this.#dtmfTx.active;
  }

  /** A re-INVITE moved the far end's media: RTP, RTCP and generated media go there from now on. */
  setRemote(remote: RemoteRtpAddress): void {
    this.#remote = { ...remote };
    // The far end's new SDP: its media may come from a new place.
    this.#latch.reset();
    this.#rtcpLatched = false;
  }

  /** The last RTCP sender report of the current source. */
  get lastSenderReport(): SenderReportInfo | null {
    return this.#lastSr;
  }

  get stats(): RtpSessionStats {
    const rx = this.#rx;
    return { ...this.#n, lost: Math.max(0, rx.lost), lastPacketAt: this.#lastPacketAt, jitter: rx.jitterMs, jitterBufferLost: this.#jb.counters.lost };
  }

  /** Starts receiving, and RTCP receiver reports every 1.5-4.5 s (RFC 3550 §6.2, §6.4.2). */
  start(): void {
    if (this.#closed) throw new InvalidStateError('RTP session is closed');
    if (this.#started) return;
    this.#started = true;
    const { rtp, rtcp } = this.#opts.sockets;
    rtp.on('message', this.#onRtpDatagram);
    rtcp.on('message', this.#onRtcpDatagram);
    rtp.on('error', this.#onSocketError);
    rtcp.on('error', this.#onSocketError);
    this.#rtcp.start();
  }

  /**
   * Lip sync (RFC 3550 §6.4.1): the media-clock time the stream currently
   * gives `rtpTimestamp` (null before the first packet), and a re-anchor
   * that moves the stream so `rtpTimestamp` maps to `mediaMs`. The call
   * computes the target from the sender reports of all its streams.
   */
  mediaTimeOf(rtpTimestamp: number): number | null {
    return this.#mappers.get(this.#primaryClock)?.peek(rtpTimestamp) ?? null;
  }

  reanchor(rtpTimestamp: number, mediaMs: number): void {
    this.#mappers.get(this.#primaryClock)?.setAnchor(rtpTimestamp, mediaMs);
  }

  /** Asks the sender for a keyframe: PLI (RFC 4585 §6.3.1), then FIR (RFC 5104 §4.3.1) if none arrives within ~1 s. No-op on audio. */
  requestKeyframe(reason: string): void {
    if (this.#closed || this.kind !== 'video') return;
    this.#keyframes.request(reason, mediaClockNow());
  }

  /**
   * Sends a digit string per RFC 4733 (',' = 500 ms pause) with the given
   * payload type. Calls are queued, never interleaved. Resolves when sent.
   * @throws ValidationError for characters other than `0-9 * # A-D ,`;
   *   InvalidStateError when the session closes or the remote address is unknown.
   */
  sendDtmf(digits: string, payloadType: number, opts: { durationMs?: number; volume?: number } = {}): Promise<void> {
    if (!isValidDtmfString(digits)) return Promise.reject(new ValidationError(`invalid DTMF digits "${digits}"`));
    if (this.#closed) return Promise.reject(new InvalidStateError('RTP session is closed'));
    const durationMs = Math.min(5000, Math.max(40, opts.durationMs ?? 160));
    const volume = Math.min(63, Math.max(0, Math.round(opts.volume ?? 10)));
    const pt = payloadType & 0x7f;
    return this.#dtmfTx.send(digits.toUpperCase(), pt, this.#opts.payloadTypes[pt]?.clockRate ?? 8000, durationMs, volume);
  }

  /** Stops everything; idempotent. Pending `sendDtmf` promises reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    if (this.#jbTimer !== null) clearTimeout(this.#jbTimer);
    if (this.#nackTimer !== null) clearTimeout(this.#nackTimer);
    this.#nackTimer = null;
    this.#jbTimer = null;
    this.#rtcp.close();
    this.#keyframes.close();
    const { rtp, rtcp } = this.#opts.sockets;
    rtp.off('message', this.#onRtpDatagram);
    rtcp.off('message', this.#onRtcpDatagram);
    if (this.#opts.ownsSockets ?? true) this.#opts.sockets.close();
    // Keep the error listeners: a late socket error must not become an uncaught exception.
  }

  readonly #rtpTarget = (): { host: string; port: number } | null =>
    this.#remote === null ? null : { host: this.#remote.host, port: this.#remote.rtpPort };

  readonly #onSocketError = (err: Error): void => {
    this.#log.warn({ err, kind: this.kind }, 'RTP socket error');
  };

  readonly #onRtpDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    if (looksLikeRtcp(msg)) {
      this.#onRtcpDatagram(msg, rinfo); // RFC 5761 §4 demultiplexing
      return;
    }
    if (!this.#latch.addressAllowed(rinfo.address, this.#remote?.host ?? null)) {
      this.#n.foreign++;
      return;
    }
    if (msg.length < 12 || msg[0]! >> 6 !== 2) {
      this.#n.discarded++;
      return;
    }
    if (!this.#known[msg[1]! & 0x7f]) {
      this.#onUnexpectedPayloadType(msg[1]! & 0x7f);
      return;
    }
    let p: RtpPacketView;
    try {
      p = parseRtpPacket(msg);
    } catch {
      this.#n.discarded++;
      return;
    }
    const now = mediaClockNow();
    if (!this.#latchSource(rinfo, now)) {
      this.#n.foreign++;
      return;
    }
    if (this.#ssrc !== p.ssrc) this.#onNewSource(p.ssrc);
    if (!this.#rx.update(p.ssrc, p.seq, p.timestamp, p.payload.length, now)) return;
    this.#n.packets++;
    this.#n.bytes += msg.length;
    this.#lastPacketAt = Date.now();
    this.#lastPacketMedia = now;
    // Anchor the media clock at arrival, not at release from the jitter buffer.
    const route = this.#routes[p.payloadType]!;
    const clock = route.t === 'audio' ? route.clockRate : route.t === 'h264' || route.t === 'vp8' ? 90000 : 0;
    if (clock > 0) {
      const m = this.#mapper(clock);
      if (!m.started) m.setAnchor(p.timestamp, now);
    }
    if (this.kind === 'video') {
      this.#nacks.onPacket(p.seq, now);
      if (this.#nackTimer === null && this.#nacks.pending > 0) this.#armNackTimer(now);
    }
    this.#jb.push(p, now);
    if (this.#jb.held > 0 && this.#jbTimer === null) this.#armJitterTimer(now);
    const waiting = route.t === 'h264' ? this.#h264?.waitingForIdr : route.t === 'vp8' ? this.#vp8?.waitingForKeyframe : false;
    if (waiting === true && !this.#keyframes.escalating) {
      this.#keyframes.request('waiting for IDR', now);
      this.emit('keyframeNeeded');
    }
  };

  /**
   * RTP under a payload type we do not receive on this track (never offered,
   * or a codec other than the negotiated one): counted, and logged once per
   * session at warn so a far end whose media is lost this way is visible.
   */
  #onUnexpectedPayloadType(pt: number): void {
    this.#n.discarded++;
    this.#n.unexpectedPayloadType++;
    if (this.#unexpectedPtLogged) return;
    this.#unexpectedPtLogged = true;
    this.#log.warn({ kind: this.kind, payloadType: pt, receiving: Object.keys(this.#opts.payloadTypes).map(Number) },
      'RTP with a payload type this track does not receive: dropped (counted in discarded / unexpectedPayloadType)');
  }

  /** One source per stream (SourceLatch); with symmetric latching, RTP and RTCP are then sent to where the far end sends from. */
  #latchSource(rinfo: dgram.RemoteInfo, now: number): boolean {
    const from = this.#latch.source;
    const r = this.#latch.latch(rinfo, now);
    if (r === 'same') return true;
    if (r === 'refused') return false;
    if (r === 'moved') this.#log.info({ kind: this.kind, from, to: { address: rinfo.address, port: rinfo.port } }, 'RTP source moved');
    if (this.#latch.symmetric) {
      this.#remote = { host: rinfo.address, rtpPort: rinfo.port, rtcpPort: this.#rtcpLatched ? this.#remote!.rtcpPort : rinfo.port + 1 };
      this.#log.debug({ kind: this.kind, remote: this.#remote }, 'latched the remote RTP address');
    }
    return true;
  }

  #armNackTimer(now: number): void {
    const deadline = this.#nacks.nextDeadline();
    if (deadline === null) return;
    this.#nackTimer = setTimeout(this.#onNackTimer, Math.max(1, Math.ceil(deadline - now)));
  }

  /** Generic NACK (RFC 4585 §6.2.1) for video packets still missing: the sender may resend within the jitter buffer's wait. */
  readonly #onNackTimer = (): void => {
    this.#nackTimer = null;
    if (this.#closed) return;
    const now = mediaClockNow();
    const seqs = this.#nacks.due(now);
    if (seqs.length > 0 && this.#ssrc !== null && this.#rtcp.sendNack(this.#ssrc, seqs)) {
      this.#n.nackSent += seqs.length;
    }
    if (this.#nacks.pending > 0) this.#armNackTimer(now);
  };

  #onNewSource(ssrc: number): void {
    this.#nacks.reset();
    if (this.#ssrc !== null) {
      this.#log.info({ kind: this.kind, oldSsrc: this.#ssrc, ssrc }, 'RTP source changed');
      this.#jb.flush();
      this.#h264?.flush();
      this.#h264?.reset();
      this.#vp8?.flush();
      this.#vp8?.reset();
    }
    this.#jb.reset();
    for (const m of this.#mappers.values()) m.reset();
    this.#ssrc = ssrc;
    this.#lastSr = null;
  }

  #mapper(clockRate: number): RtpTimestampMapper {
    let m = this.#mappers.get(clockRate);
    if (m === undefined) {
      m = new RtpTimestampMapper(clockRate);
      this.#mappers.set(clockRate, m);
    }
    return m;
  }

  readonly #onReleased = (p: RtpPacketView, gapBefore: number): void => {
    if (this.#closed) return;
    const route = this.#routes[p.payloadType]!;
    switch (route.t) {
      case 'h264':
        this.#h264?.push(p.payload, p.timestamp, p.marker, gapBefore);
        return;
      case 'vp8':
        this.#vp8?.push(p.payload, p.timestamp, p.marker, gapBefore);
        return;
      case 'audio': {
        const frame: AudioFrame = {
          kind: 'audio',
          codec: route.codec,
          ptsMs: this.#mapper(route.clockRate).map(p.timestamp, mediaClockNow()),
          clockRate: route.clockRate,
          data: p.payload,
        };
        this.emit('frame', frame);
        return;
      }
      case 'dtmf':
        try {
          this.#dtmfRx.push(p.payload, p.timestamp);
        } catch (e) {
          if (!(e instanceof ParseError)) throw e;
          this.#n.discarded++;
        }
        return;
      default:
        this.#n.discarded++;
    }
  };

  readonly #onH264Frame = (nalus: Buffer[], key: boolean, timestamp: number): void => {
    if (key) this.#keyframes.keyframeReceived();
    this.emit('frame', {
      kind: 'video',
      codec: 'H264',
      ptsMs: this.#mapper(90000).map(timestamp, mediaClockNow()),
      key,
      nalus,
    });
  };

  readonly #onVp8Frame = (data: Buffer, key: boolean, timestamp: number): void => {
    if (key) this.#keyframes.keyframeReceived();
    this.emit('frame', { kind: 'video', codec: 'VP8', ptsMs: this.#mapper(90000).map(timestamp, mediaClockNow()), key, nalus: [data] });
  };

  readonly #onKeyframeNeeded = (reason: string): void => {
    this.#keyframes.request(reason, mediaClockNow());
    this.emit('keyframeNeeded');
  };

  #armJitterTimer(now: number): void {
    const deadline = this.#jb.nextDeadline();
    if (deadline === null) return;
    this.#jbTimer = setTimeout(this.#onJitterTimer, Math.max(1, Math.ceil(deadline - now)));
  }

  readonly #onJitterTimer = (): void => {
    this.#jbTimer = null;
    if (this.#closed) return;
    const now = mediaClockNow();
    this.#jb.poll(now);
    if (this.#jb.held > 0) this.#armJitterTimer(now);
  };

  readonly #onRtcpDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    // RTCP from the latched source's address only (its port differs from the RTP one).
    if (!this.#latch.rtcpAllowed(rinfo.address, this.#remote?.host ?? null)) {
      this.#n.foreign++;
      return;
    }
    if (this.#latch.symmetric && !this.#rtcpLatched) {
      this.#rtcpLatched = true;
      const src = this.#latch.source;
      this.#remote = { host: src?.address ?? rinfo.address, rtpPort: src?.port ?? this.#remote?.rtpPort ?? rinfo.port - 1, rtcpPort: rinfo.port };
    }
    let infos;
    try {
      infos = parseRtcpCompound(msg);
    } catch {
      this.#n.discarded++;
      return;
    }
    const now = mediaClockNow();
    for (const info of infos) {
      if (info.type === 'sr' && (this.#ssrc === null || info.ssrc === this.#ssrc)) {
        this.#rx.onSenderReport(info.ntpSec, info.ntpFrac, now);
        this.#lastSr = { ssrc: info.ssrc, ntpSec: info.ntpSec, ntpFrac: info.ntpFrac, rtpTimestamp: info.rtpTimestamp, receivedAt: now };
        this.emit('senderReport', this.#lastSr);
      } else if (info.type === 'bye') {
        this.#log.debug({ kind: this.kind, ssrcs: info.ssrcs }, 'RTCP BYE');
      }
    }
  };
}
