import { type Logger, ConflictError, InvalidStateError, Scope, SipError, TypedEmitter, runInScope, type ErrorScope } from '../shared/index.js';
import { PICTURE_FAST_UPDATE, isHoldOffer, newCallId, type SipClientCall, type SipServerCall, type NegotiatedMedia, type ReferProgress } from '../sip/index.js';
import { CallRegistration } from './call-registration.js';
import { CallTransfer } from './call-transfer.js';
import { CallDtmf } from './call-dtmf.js';
import { CallRecording } from './call-recording.js';
import { CallMedia } from './call-media.js';
import { CallOutputs } from './call-outputs.js';
import { assertTransition, isTerminal, type CallStatus } from './call-state.js';
import type { CallObject, DtmfType, RegistrationObject, RtmpStreamStatus, StartupParams, TransferObject } from './types.js';
import { inviteOptions, resolveTarget, type SipTarget } from './sip-target.js';
import { CallSdp } from './call-sdp.js';
import type { CallDeps } from './call-deps.js';

/** What {@link Call.stats} reports. */
export interface CallStats {
  rtp: ReturnType<CallMedia['stats']>;
  rtmp: ReturnType<CallOutputs['stats']>;
  /** Tracks re-encoded in-process (codec engines running for this call). */
  transcoders: ('audio' | 'video')[];
}

export interface CallEvents {
  /** A status or rtmpStreamStatus change; `final` on the terminal one. */
  change: [call: CallObject, final: boolean];
  /** Media torn down, ports free. */
  closed: [];
  /** The call's registration changed (sipRegisterRequired): registered, failed, unregistered at the end. */
  registration: [r: RegistrationObject];
  /** A step of a `/call/transfer`. */
  transfer: [t: TransferObject];
}

/**
 * One outgoing capture: the SIP call, its RTP sessions and its output. The
 * only place that wires sip, rtp, transcode and rtmp together for a call.
 */
export class Call extends TypedEmitter<CallEvents> {
  readonly callId: string;
  readonly toStream: string;
  readonly rtmpUrl: string | null;
  readonly rtmpStream: string | null;
  readonly createdAt = Date.now();
  readonly log: Logger;
  readonly target: SipTarget;
  #status: CallStatus = 'PENDING';
  #sipStatus: number | null = null;
  #info: string | null = null;
  #rtmpStatus: RtmpStreamStatus | null = null;
  /** Our in-dialog offer on the call's ports, once dialled. */
  #reoffer: ((hold: boolean) => string) | undefined;
  #audioCodec: string | null = null;
  #videoCodec: string | null = null;
  #sipCall: SipClientCall | SipServerCall | undefined;
  readonly #registration: CallRegistration;
  readonly #transfer: CallTransfer;
  /** `record: true` (and recording configured). */
  readonly #recording: CallRecording | undefined;
  readonly #media: CallMedia;
  readonly #outputs: CallOutputs;
  /** What the call releases when it ends, last added first: media, then outputs, then the registration. */
  readonly #resources: Scope;
  /** Media started (on an early SDP in a 18x, or on the 2xx); the SDP it started on. */
  #mediaSdp: string | undefined;
  /** The SDP we send and what it lets the far end send us (RFC 3264). */
  readonly #sdp: CallSdp;
  readonly #dtmf: CallDtmf;
  /** Our BYE or CANCEL, once sent: shutdown waits for its answer. */
  #hangup: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** This call's error boundary: whatever throws in its timers, sockets or listeners ends this call only. */
  readonly #scope: ErrorScope = { name: '', fail: (e) => this.#internalError(e) };

  constructor(readonly params: StartupParams & { callId: string; toStream: string }, private readonly ctx: CallDeps, defaultDomain: string | null) {
    super((event, error) => this.log.error({ event, err: error }, 'call listener failed'));
    this.callId = params.callId;
    this.toStream = params.toStream;
    this.rtmpUrl = params.rtmpUrl ?? null;
    this.rtmpStream = params.rtmpUrl ? (params.rtmpStream ?? params.toStream) : (params.rtmpStream ?? null);
    this.log = ctx.log.child({ callId: this.callId });
    this.target = resolveTarget(params, defaultDomain);
    this.#resources = new Scope((err) => this.log.warn({ err }, 'call teardown step failed'));
    // SPEC §2.1: unregister when the call ends (after BYE was started, media and outputs closed).
    const reg = { callId: this.callId, params, appKey: params.appKey, target: this.target, nodeId: ctx.nodeId, log: this.log };
    this.#registration = new CallRegistration(reg, (r) => this.emit('registration', r));
    this.#resources.defer(() => this.#registration.unregister());
    this.#transfer = new CallTransfer(reg, (t) => this.emit('transfer', t), () => void this.#end('FINISH', 'TRANSFERRED', true));
    this.#resources.defer(() => this.#transfer.close());
    this.#sdp = new CallSdp({
      address: ctx.sdpAddress, sendAudio: params.hasAudio, sendVideo: params.hasVideo, codecs: ctx.codecs, extraSessionLines: params.sipSDP,
    }, this.log);
    // What the startup body sets for this call overrides the configured media settings.
    const { rtpActivityTimeoutMs, lobbyTimeoutMs, transcodeVideo } = params;
    const perCall = Object.entries({ rtpActivityTimeoutMs, lobbyTimeoutMs, transcodeVideo }).filter(([, v]) => v !== undefined);
    const tuning = { ...ctx.mediaTuning, ...(Object.fromEntries(perCall) as Partial<typeof ctx.mediaTuning>) };
    this.#media = new CallMedia({ ports: ctx.ports, jitterBufferMs: ctx.jitterBufferMs, transcode: ctx.transcode, tuning, log: this.log });
    this.#dtmf = new CallDtmf({
      rfc2833: (digits) => this.#media.sendDtmf(digits),
      info: (contentType, body) => this.#sipCall?.sendInfo(contentType, body),
    }, this.log);
    this.#media.on('dtmf', (_digit, durationMs) => this.log.info({ durationMs }, 'DTMF received'));
    this.#media.on('inactive', () => {
      this.log.warn('no RTP within rtpActivityTimeoutMs');
      void this.#end('FAILED', 'FAILED_BY_RTP_ACTIVITY', true);
    });
    // RFC 5168 §3, for devices that ignore RTCP PLI/FIR.
    this.#media.on('keyframeViaSip', () => void this.#sipCall?.sendInfo('application/media_control+xml', PICTURE_FAST_UPDATE)
      .catch((e: unknown) => this.log.debug({ err: (e as Error).message }, 'picture_fast_update INFO failed')));
    this.#outputs = new CallOutputs({
      primary: this.rtmpUrl ? { url: this.rtmpUrl, streamName: this.rtmpStream ?? this.toStream } : null,
      embedded: ctx.embeddedRtmpUrl ? { url: ctx.embeddedRtmpUrl, streamName: this.toStream } : null,
      connectTimeoutMs: ctx.rtmpConnectTimeoutMs,
      ...ctx.rtmpOutput,
      log: this.log,
    });
    if (params.record && ctx.recording) this.#recording = new CallRecording(this, ctx.recording, () => this.emit('change', this.toJSON(), false));
    // Closed after the outputs: the output's last tags reach the file first.
    this.#resources.defer(() => this.#recording?.close());
    this.#resources.add(this.#outputs);
    this.#resources.add(this.#media);
    this.#outputs.on('status', (s) => this.#setRtmpStatus(s));
    this.#outputs.on('keyframeNeeded', (reason) => this.#media.requestKeyframe(reason));
    this.#outputs.on('fatal', (reason) => {
      this.log.error({ reason }, 'RTMP target failed for good');
      void this.#end('FAILED', 'FAILED_BY_RTMP_WRITER_ERROR', true);
    });
  }

  get status(): CallStatus {
    return this.#status;
  }

  /** The call's RTMP targets (pushes are added here). */
  get outputs(): CallOutputs {
    return this.#outputs;
  }

  /** Live statistics: RTP per track, every RTMP target, transcoders (metrics and dashboard). */
  stats(): CallStats {
    return { rtp: this.#media.stats(), rtmp: this.#outputs.stats(), transcoders: this.transcoders };
  }

  get transcoders(): ('audio' | 'video')[] {
    return this.#media.output?.transcoders ?? [];
  }

  toJSON(): CallObject {
    const p = this.params;
    const caller = p.incoming?.caller ?? p.sipLogin ?? 'gateway';
    return {
      callId: this.callId, parentCallId: p.parentCallId ?? null, incoming: p.incoming !== undefined,
      status: this.#status, sipStatus: this.#sipStatus, info: this.#info,
      sipMessageRaw: (this.#sipCall && this.ctx.sip.lastMessage(this.#sipCall)) ?? null, joinDtmfResult: this.#dtmf.joinResult,
      caller, callee: p.incoming?.userPart ?? p.callee, visibleName: p.visibleName ?? caller,
      toStream: this.toStream, streamName: this.toStream,
      rtmpUrl: this.rtmpUrl, rtmpStream: this.rtmpStream, rtmpStreamStatus: this.#rtmpStatus,
      hasAudio: p.hasAudio, hasVideo: p.hasVideo,
      audioCodec: this.#audioCodec, videoCodec: this.#videoCodec,
      inviteParameters: p.inviteParameters ?? null, recordingPath: this.#recording?.path ?? null, recordingStopped: this.#recording?.stopped ?? null,
      sdp: null, mediaProvider: null, isMsrp: false, target: this.#transfer.target, holdForTransfer: false,
      appKey: p.appKey, nodeId: this.ctx.nodeId, sessionId: this.ctx.sessionId,
      custom: p.custom, createdAt: this.createdAt,
    };
  }

  /** Announces PENDING and starts dialing (or answering `incoming`) in the background, inside the call's error boundary. */
  start(incoming?: SipServerCall): void {
    this.inScope(() => {
      this.emit('change', this.toJSON(), false);
      void (incoming ? this.#answer(incoming) : this.#dial()).catch((e: unknown) => {
        this.log.error({ err: e }, 'call setup failed');
        void this.#end('FAILED', (e as Error).message, true);
      });
    });
  }

  /**
   * Runs `fn` inside this call's error boundary: what it starts (sockets,
   * timers, publishers) belongs to the call, and an exception there ends
   * this call FAILED, never the process. For work started from outside the
   * call (REST, pushes).
   */
  inScope<T>(fn: () => T): T {
    return runInScope(this.#scope, fn);
  }

  /** An exception escaped this call's code: the call ends FAILED with it; nothing else is touched. */
  #internalError(e: Error): void {
    this.log.error({ err: e }, 'internal error: ending this call');
    if (isTerminal(this.#status)) return;
    void this.#end('FAILED', `INTERNAL_ERROR: ${e.message.slice(0, 200)}`, true);
  }

  /** A SIP event listener, run inside the call's boundary. */
  #sipListener<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args) => this.inScope(() => {
      try {
        fn(...args);
      } catch (e) {
        this.#internalError(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** `/call/terminate`: CANCEL while ringing, BYE when established. */
  terminate(): void {
    this.inScope(() => {
      if (isTerminal(this.#status)) return;
      this.log.info({ status: this.#status }, 'terminate requested');
      void this.#end('FINISH', 'NORMAL_CALL_CLEARING', true);
    });
  }

  /**
   * `/call/hold` (true) and `/call/unhold` (false): our re-INVITE, `sendonly`
   * (RFC 3264 §8.4) or back to `sendrecv`; HOLD ↔ ESTABLISHED once the far end
   * accepts. The output keeps going (generated audio fills the held track).
   */
  async setHold(hold: boolean): Promise<void> {
    const from = hold ? 'ESTABLISHED' : 'HOLD';
    const sipCall = this.#sipCall;
    if (this.#status !== from || sipCall === undefined || this.#reoffer === undefined) {
      throw new InvalidStateError(`the call is ${this.#status}, not ${from}`);
    }
    const status = await sipCall.requests.reinvite(this.#reoffer(hold));
    if (status < 200 || status >= 300) throw new SipError(status, `the far end refused the ${hold ? 'hold' : 'resume'} re-INVITE`);
    if (this.#status !== from) return; // ended (or changed by the far end) meanwhile
    this.#media.setOnHold(hold);
    this.#setStatus(hold ? 'HOLD' : 'ESTABLISHED');
  }

  /**
   * `/call/transfer`: REFER to `target` (a SIP user, sip:/sips: or tel: URI,
   * resolved as a callee is); resolves once the far end accepted it. Progress
   * goes out as TransferStatusEvents; COMPLETED ends the call (info TRANSFERRED).
   */
  async transfer(target: string): Promise<void> {
    const sipCall = this.#sipCall;
    if ((this.#status !== 'ESTABLISHED' && this.#status !== 'HOLD') || sipCall === undefined) {
      throw new InvalidStateError(`the call is ${this.#status}, not ESTABLISHED or HOLD`);
    }
    const uri = resolveTarget({ ...this.params, callee: target, inviteParameters: undefined }, this.target.fromHost).requestUri;
    const referredBy = `sip:${this.target.fromUser}@${this.target.fromHost}`;
    await this.inScope(() => this.#transfer.start((to) => sipCall.requests.refer(to, referredBy), uri));
  }

  /** `/call/send_dtmf`: queued per call, so digit strings never interleave. */
  sendDtmf(digits: string, type: DtmfType): void {
    if (this.#status !== 'ESTABLISHED') throw new ConflictError(`call ${this.callId} is ${this.#status}, not ESTABLISHED`);
    if (type === 'RFC2833' && !this.#media.canSendRfc2833) {
      throw new ConflictError(`call ${this.callId} has no negotiated telephone-event; use INFO or INFO_RELAY`);
    }
    this.inScope(() => this.#dtmf.send(digits, type));
  }

  /** Shutdown: ends the call like `terminate` and resolves once the BYE is answered and everything is released. */
  async close(reason = 'NORMAL_CALL_CLEARING'): Promise<void> {
    await this.#end('FINISH', reason, true);
    await this.#hangup;
  }

  /** An incoming capture: our SDP answer to the far end's offer in a 2xx (488 when there is nothing we can take), then as an outgoing call. */
  async #answer(server: SipServerCall): Promise<void> {
    const ports = await this.#media.allocate();
    if (ports === undefined) return; // ended meanwhile
    this.#attach(server, ports);
    this.#rtmpStatus = this.#outputs.initialStatus;
    this.#setStatus('TRYING');
    let answer: string;
    try {
      answer = this.#sdp.answerRemoteOffer(server.offer ?? '', ports);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'incoming offer refused');
      server.reject(488, 'Not Acceptable Here');
      return;
    }
    server.accept(answer);
  }

  async #dial(): Promise<void> {
    const ports = await this.#media.allocate();
    if (ports === undefined) return; // ended meanwhile
    const offer = this.#sdp.offer(ports);
    const t = this.target;
    if (this.params.sipRegisterRequired && !(await this.#register())) return;
    if (isTerminal(this.#status)) return;
    // The SIP Call-ID is random, not the REST callId: whoever can read the API (or guess ids) cannot forge into the dialog.
    const sipCallId = newCallId();
    const sipCall = this.ctx.sip.invite(inviteOptions(this.params, t, this.ctx, { sipCallId, offer, log: this.log }));
    this.#attach(sipCall, ports);
    this.log.info({ requestUri: t.requestUri, destination: t.destination, sipCallId }, 'sending INVITE');
    sipCall.start();
    // WCS reports RTMP_STREAM_WAIT from TRYING on (the seeds' own event): the stream is awaited from here.
    this.#rtmpStatus = this.#outputs.initialStatus;
    this.#setStatus('TRYING');
  }

  /** The SIP call's events into this call's state, inside its error boundary. */
  #attach(sipCall: SipClientCall | SipServerCall, ports: { audioPort: number; videoPort: number }): void {
    this.#sipCall = sipCall;
    sipCall.answerSdp = (remote) => this.inScope(() => this.#sdp.answerRemoteOffer(remote, ports));
    this.#reoffer = (hold) => this.#sdp.reoffer(ports, hold);
    sipCall.on('progress', this.#sipListener((status: number, _reason: string, sdp: string | undefined) => {
      this.#sipStatus = status;
      if (status === 100 || isTerminal(this.#status)) return;
      // Early media (RFC 3960): a 18x with SDP starts reception before the answer.
      if (sdp !== undefined && this.#mediaSdp === undefined) this.#startMedia(sdp, true);
      if (status === 183 && sdp !== undefined) this.#setStatus('SESSION_PROGRESS');
      else if (status >= 180 && status < 200) this.#setStatus('RING');
    }));
    sipCall.on('reinvite', this.#sipListener((sdp: string | undefined) => this.#onRemoteOffer(sdp)));
    sipCall.on('established', this.#sipListener((status: number, sdp: string) => this.#onEstablished(status, sdp)));
    sipCall.on('failed', this.#sipListener((status: number, reason: string) => {
      this.#sipStatus = status;
      if (status === 486 || status === 600) void this.#end('BUSY', reason, false);
      else void this.#end('FAILED', status === 408 ? 'FAILED_BY_REQUEST_TIMEOUT' : reason, false);
    }));
    sipCall.on('ended', this.#sipListener((by: string) => {
      this.log.info({ by }, 'call ended');
      void this.#end('FINISH', 'NORMAL_CALL_CLEARING', false);
    }));
    sipCall.on('referProgress', this.#sipListener((p: ReferProgress) => this.#transfer.progress(p)));
    sipCall.on('info', (contentType, body) => this.log.info({ contentType, body: body.slice(0, 200) }, 'SIP INFO received'));
  }

  #setCodecs(audio: NegotiatedMedia | null, video: NegotiatedMedia | null): void {
    this.#audioCodec = audio ? `${audio.codec.name}/${audio.codec.clockRate}` : null;
    this.#videoCodec = video ? `${video.codec.name}/${video.codec.clockRate}` : null;
  }

  /** Starts RTP reception and the output on `sdp`; when it holds nothing usable, why (empty when no codec is common). */
  #startMedia(sdp: string, early: boolean): true | string[] {
    const { audio, video, problems } = this.#sdp.usable(sdp);
    if (!audio && !video) return problems;
    this.#mediaSdp = sdp;
    this.#setCodecs(audio, video);
    this.log.info({ audio: this.#audioCodec, video: this.#videoCodec, early }, 'media started');
    const output = this.#media.start(audio, video);
    this.#outputs.start(output);
    this.#recording?.start(this.#outputs, { hasAudio: true, hasVideo: output.hasVideo });
    this.#rtmpStatus = this.#outputs.initialStatus;
    return true;
  }

  /** SPEC §2.1 sipRegisterRequired: REGISTER (with digest) first; a refusal ends the call FAILED with its status. */
  async #register(): Promise<boolean> {
    const r = await this.#registration.register(this.ctx.sip, this.ctx.authRealms);
    this.#sipStatus = r.status;
    if (r.status < 300) return true;
    this.log.warn({ status: r.status, reason: r.reason }, 'registration failed');
    void this.#end('FAILED', r.reason, false);
    return false;
  }

  #onEstablished(status: number, sdp: string): void {
    this.#sipStatus = status;
    if (isTerminal(this.#status)) return;
    if (this.#mediaSdp === undefined) {
      const started = this.#startMedia(sdp, false);
      if (started !== true) {
        // SPEC §4: an answer we cannot use ends the call with the reason, never later from a timer.
        void this.#end('FAILED', started.length > 0 ? `BAD_SDP_ANSWER: ${started.join('; ')}` : 'NO_COMMON_CODECS', true);
        return;
      }
    } else if (sdp.trim() !== '' && sdp !== this.#mediaSdp) {
      // The answer differs from the early SDP (RFC 3261 §13.2.1: the 2xx's answer wins).
      const { audio, video } = this.#sdp.usable(sdp);
      if (audio || video) {
        this.#mediaSdp = sdp;
        this.#setCodecs(audio, video);
        this.#media.update(audio, video);
      }
    }
    this.log.info({ audio: this.#audioCodec, video: this.#videoCodec }, 'call established');
    this.#setStatus('ESTABLISHED');
    const join = this.params.joinDtmf;
    if (join) {
      // Conference IVRs (Cisco Meeting Server) ask for a PIN after answering (SPEC §9.7).
      this.#resources.setTimeout(() => {
        if (this.#status !== 'ESTABLISHED') return;
        this.#dtmf.join(join, (digits, type) => this.sendDtmf(digits, type));
        // Reported at once (same status): a client learns the PIN went out, or why not.
        this.emit('change', this.toJSON(), false);
      }, join.delayMs);
    }
  }

  /**
   * A far-end re-INVITE/UPDATE offer, already answered: hold (`sendonly` /
   * `inactive`, SPEC §4) → HOLD, anything else from HOLD → ESTABLISHED; a new
   * port, codec or SSRC goes to the media layer, which continues the output.
   */
  #onRemoteOffer(sdp: string | undefined): void {
    if (sdp === undefined || isTerminal(this.#status) || (this.#status !== 'ESTABLISHED' && this.#status !== 'HOLD')) return;
    let hold: boolean;
    try {
      hold = isHoldOffer(sdp);
    } catch {
      return;
    }
    const { audio, video } = this.#sdp.usable(sdp);
    if (hold && this.#status === 'ESTABLISHED') {
      this.#media.setOnHold(true);
      this.#setStatus('HOLD');
    }
    if (audio || video) {
      this.#mediaSdp = sdp;
      this.#setCodecs(audio, video);
      this.#media.update(audio, video);
    }
    if (!hold && this.#status === 'HOLD') {
      this.#media.setOnHold(false);
      this.#setStatus('ESTABLISHED');
    }
  }

  #setStatus(to: CallStatus, info?: string): void {
    if (to === this.#status) return;
    assertTransition(this.#status, to);
    this.#status = to;
    if (info !== undefined) this.#info = info;
    this.log.info({ status: to, sipStatus: this.#sipStatus, info: this.#info }, 'call status');
    this.emit('change', this.toJSON(), isTerminal(to));
  }

  #setRtmpStatus(s: RtmpStreamStatus): void {
    if (s === this.#rtmpStatus || isTerminal(this.#status)) return;
    this.#rtmpStatus = s;
    this.emit('change', this.toJSON(), false);
  }

  /**
   * The one way a call ends, whoever ends it: the terminal status once, our
   * BYE or CANCEL when `hangup` (the SIP side has not ended on its own), then
   * media → outputs → registration released. Media goes at once rather than
   * after the far end answers, so an unanswered BYE never keeps a transcoder
   * alive for the 32 s of its transaction (the SIP layer finishes alone).
   * The same promise every time.
   */
  #end(status: 'FINISH' | 'BUSY' | 'FAILED', info: string, hangup: boolean): Promise<void> {
    if (this.#closing) return this.#closing;
    if (hangup) this.#hangup = this.#sipCall?.hangup().catch(() => undefined);
    this.#setStatus(status, info);
    this.#closing = this.#resources.close().then(() => {
      this.log.info('call media closed');
      this.emit('closed');
    });
    return this.#closing;
  }
}
