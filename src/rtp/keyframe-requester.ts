/**
 * Keyframe request policy of one video stream: a PLI at once (RFC 4585
 * §6.3.1), at most every `pliMinIntervalMs`; if no keyframe arrives within
 * `escalateAfterMs`, PLI and FIR (RFC 5104 §4.3.1, some encoders only honour
 * one of them) every `escalateAfterMs` until one does, while packets keep
 * arriving. The last rung: after `sipAfterTicks` such rounds (3 s by
 * default) the `viaSip` hook asks over SIP INFO picture_fast_update (RFC
 * 5168) for far ends that ignore RTCP, again every `sipAfterTicks` rounds.
 * Owns exactly one timer.
 */
export interface KeyframeRequesterHooks {
  /** Sends the feedback; false when it could not be sent (remote or SSRC unknown). */
  send(pli: boolean, fir: boolean): boolean;
  /** Whether the stream is alive; the watchdog stops while it is not. */
  streamActive(): boolean;
  /** Called for every feedback packet actually sent. */
  sent(kind: 'pli' | 'fir', reason: string): void;
  /** RTCP went unanswered: ask through signalling. */
  viaSip?(reason: string): void;
}

export class KeyframeRequester {
  readonly #hooks: KeyframeRequesterHooks;
  readonly #pliMinIntervalMs: number;
  readonly #escalateAfterMs: number;
  #awaiting = false;
  #lastPliAt = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #reason = '';
  #closed = false;
  /** Escalation rounds since the request without a keyframe. */
  #rounds = 0;
  readonly #sipAfterTicks: number;

  constructor(hooks: KeyframeRequesterHooks, opts: { pliMinIntervalMs?: number; escalateAfterMs?: number; sipAfterTicks?: number } = {}) {
    this.#hooks = hooks;
    this.#sipAfterTicks = opts.sipAfterTicks ?? 3;
    this.#pliMinIntervalMs = opts.pliMinIntervalMs ?? 500;
    this.#escalateAfterMs = opts.escalateAfterMs ?? 1000;
  }

  /** True from a request until a keyframe arrives. */
  get awaiting(): boolean {
    return this.#awaiting;
  }

  /** True while the escalation timer runs. */
  get escalating(): boolean {
    return this.#timer !== null;
  }

  request(reason: string, nowMs: number): void {
    if (this.#closed) return;
    this.#awaiting = true;
    this.#reason = reason;
    if (nowMs - this.#lastPliAt >= this.#pliMinIntervalMs && this.#hooks.send(true, false)) {
      this.#lastPliAt = nowMs;
      this.#hooks.sent('pli', reason);
    }
    this.#arm();
  }

  keyframeReceived(): void {
    this.#awaiting = false;
    this.#rounds = 0;
    this.#disarm();
  }

  close(): void {
    this.#closed = true;
    this.#awaiting = false;
    this.#disarm();
  }

  #arm(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#timer = setTimeout(this.#tick, this.#escalateAfterMs);
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  readonly #tick = (): void => {
    this.#timer = null;
    if (this.#closed || !this.#awaiting || !this.#hooks.streamActive()) return;
    if (this.#hooks.send(true, true)) {
      this.#hooks.sent('pli', this.#reason);
      this.#hooks.sent('fir', this.#reason);
    }
    this.#rounds++;
    if (this.#rounds % this.#sipAfterTicks === 0) this.#hooks.viaSip?.(this.#reason);
    this.#arm();
  };
}
