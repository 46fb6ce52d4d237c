/**
 * Generated media for far ends that hang up on a silent peer (SPEC §5,
 * §9.4): a short loop of pre-encoded units (G.711 silence, a black H.264
 * GOP) sent on a session's RtpSender at the unit rate. Timestamps advance by
 * exactly one unit per unit (RFC 3550 §5.1: the sampling instant), paced by
 * the media clock so a late timer catches up instead of drifting; while
 * paused (a DTMF event on the same stream, or hold) time keeps running and
 * nothing is sent. Video restarts at the loop's first unit (the keyframe)
 * after a pause, so the far end's decoder never sees a broken reference.
 */
import { mediaClockNow } from './media-clock.js';
import type { RtpSender } from './rtp-sender.js';

/** One unit of the loop: the RTP payloads that share a timestamp (the last one carries the marker). */
export type GeneratedUnit = readonly { readonly payload: Buffer; readonly marker: boolean }[];

export interface GeneratedStream {
  payloadType: number;
  /** The loop, played in order; the first unit must be decodable on its own (a keyframe for video). */
  units: readonly GeneratedUnit[];
  /** Duration of one unit in ms (20 for G.711 at 20 ms ptime, 100 for 10 fps video). */
  unitMs: number;
}

/** More units than this behind (a stalled event loop) are skipped, not burst out. */
const MAX_CATCH_UP = 5;

export class MediaGenerator {
  readonly #sender: RtpSender;
  readonly #stream: GeneratedStream;
  readonly #paused: () => boolean;
  readonly #tsPerUnit: number;
  #timer: NodeJS.Timeout | null = null;
  #t0 = 0;
  #tsBase = 0;
  /** Units elapsed since start (sent or not). */
  #elapsed = 0;
  /** Position in the loop. */
  #pos = 0;
  #wasPaused = false;
  /** Units actually sent. */
  sent = 0;

  constructor(sender: RtpSender, stream: GeneratedStream, paused: () => boolean = () => false) {
    if (stream.units.length === 0 || !(stream.unitMs > 0)) throw new RangeError('a generated stream needs units and a unit duration');
    this.#sender = sender;
    this.#stream = stream;
    this.#paused = paused;
    this.#tsPerUnit = Math.round((stream.unitMs * sender.clockRate) / 1000);
  }

  get running(): boolean {
    return this.#timer !== null;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#t0 = mediaClockNow();
    this.#tsBase = this.#sender.timestampNow();
    this.#elapsed = 0;
    this.#pos = 0;
    this.#timer = setInterval(this.#tick, this.#stream.unitMs);
    this.#tick();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  readonly #tick = (): void => {
    const due = Math.floor((mediaClockNow() - this.#t0) / this.#stream.unitMs) + 1;
    if (due - this.#elapsed > MAX_CATCH_UP) this.#elapsed = due - MAX_CATCH_UP;
    while (this.#elapsed < due) {
      const ts = (this.#tsBase + this.#elapsed * this.#tsPerUnit) >>> 0;
      this.#elapsed++;
      if (this.#paused()) {
        this.#wasPaused = true;
        continue;
      }
      if (this.#wasPaused) {
        this.#wasPaused = false;
        this.#pos = 0;
      }
      const unit = this.#stream.units[this.#pos]!;
      this.#pos = (this.#pos + 1) % this.#stream.units.length;
      for (const p of unit) {
        if (!this.#sender.send(this.#stream.payloadType, p.payload, ts, p.marker)) return;
      }
      this.sent++;
    }
  };
}
