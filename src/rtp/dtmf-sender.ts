import { InvalidStateError } from '../shared/index.js';
import { delay } from './delay.js';
import { dtmfEventCode, encodeTelephoneEvent, planDigit } from './dtmf.js';
import { mediaClockNow } from './media-clock.js';
import type { RtpSender } from './rtp-sender.js';

/** Silence between two digits, so the far end sees two events. */
export const DTMF_INTER_DIGIT_GAP_MS = 60;
/** What ',' waits. */
export const DTMF_PAUSE_MS = 500;

/**
 * Sends digit strings as RFC 4733 events on an `RtpSender`, one string at a
 * time (calls queue up). Timing is taken from the media clock at every
 * packet so timer lateness does not accumulate over a long PIN.
 */
export class DtmfSender {
  readonly #sender: RtpSender;
  readonly #signal: AbortSignal;
  #chain: Promise<void> = Promise.resolve();
  #active = false;

  /** `signal` aborts every pending and queued string (session close). */
  constructor(sender: RtpSender, signal: AbortSignal) {
    this.#sender = sender;
    this.#signal = signal;
  }

  /** True while a digit's event packets are being sent: generated audio pauses then (RFC 4733 §2.5.1.2). */
  get active(): boolean {
    return this.#active;
  }

  /** Queues a validated digit string; resolves when its last packet is sent. */
  send(digits: string, payloadType: number, clockRate: number, durationMs: number, volume: number): Promise<void> {
    const run = this.#chain.then(() => this.#run(digits, payloadType, clockRate, durationMs, volume));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #run(digits: string, payloadType: number, clockRate: number, durationMs: number, volume: number): Promise<void> {
    const closed = (): InvalidStateError => new InvalidStateError('RTP session closed while sending DTMF');
    for (let i = 0; i < digits.length; i++) {
      if (this.#signal.aborted) throw closed();
      const ch = digits[i]!;
      if (ch === ',') {
        if (!(await delay(DTMF_PAUSE_MS, this.#signal))) throw closed();
        continue;
      }
      const plan = planDigit(dtmfEventCode(ch), durationMs, volume, clockRate);
      // One timestamp for every packet of the event (RFC 4733 §2.5.1.2).
      const timestamp = this.#sender.timestampNow();
      const t0 = mediaClockNow();
      this.#active = true;
      try {
        for (const step of plan) {
          const wait = t0 + step.atMs - mediaClockNow();
          if (wait > 0 && !(await delay(wait, this.#signal))) throw closed();
          if (this.#signal.aborted) throw closed();
          if (!this.#sender.send(payloadType, encodeTelephoneEvent(step.payload), timestamp, step.marker)) {
            throw new InvalidStateError('remote RTP address unknown: cannot send DTMF');
          }
        }
      } finally {
        this.#active = false;
      }
      if (i < digits.length - 1 && digits[i + 1] !== ',') {
        if (!(await delay(DTMF_INTER_DIGIT_GAP_MS, this.#signal))) throw closed();
      }
    }
  }
}
