/**
 * RFC 4733 telephone-events for DTMF: payload codec, the packet plan of one
 * digit on the sending side, and event reassembly on the receiving side.
 * Pure: no sockets, no timers.
 */
import { ParseError } from '../shared/index.js';

/** Event codes 0-15 (RFC 4733 §3.2, Table 7). */
const DIGITS = '0123456789*#ABCD';

/** The RFC 4733 event code of a DTMF digit, or -1 when it is not one. */
export function dtmfEventCode(digit: string): number {
  return digit.length === 1 ? DIGITS.indexOf(digit.toUpperCase()) : -1;
}

/** The digit of an event code 0-15, or null for other events (flash, tones). */
export function dtmfDigit(code: number): string | null {
  return code >= 0 && code < 16 ? DIGITS[code]! : null;
}

/** Valid digit strings: `0-9 * # A-D` and `,` for a pause. */
export function isValidDtmfString(s: string): boolean {
  return /^[0-9*#A-Da-d,]+$/.test(s);
}

export interface TelephoneEvent {
  event: number;
  end: boolean;
  /** 0..63, power level in -dBm0 (§2.3.4). */
  volume: number;
  /** Duration in timestamp units (§2.3.5). */
  duration: number;
}

/** Serializes the 4-byte event payload (RFC 4733 §2.3). */
export function encodeTelephoneEvent(e: TelephoneEvent): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = e.event & 0xff;
  b[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  b.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.round(e.duration))), 2);
  return b;
}

/** @throws ParseError when shorter than 4 bytes. */
export function decodeTelephoneEvent(p: Buffer): TelephoneEvent {
  if (p.length < 4) throw new ParseError('telephone-event payload shorter than 4 bytes');
  return { event: p[0]!, end: (p[1]! & 0x80) !== 0, volume: p[1]! & 0x3f, duration: p.readUInt16BE(2) };
}

/** One packet of a digit, `atMs` after the digit starts. */
export interface PlannedEventPacket {
  atMs: number;
  marker: boolean;
  payload: TelephoneEvent;
}

export const DTMF_PACKET_INTERVAL_MS = 20;

/**
 * The packets of one digit (RFC 4733 §2.5.1): every 20 ms an update whose
 * duration covers the tone so far, the first with the marker bit (§2.5.1.1),
 * then the final packet with the E bit sent three times at the update
 * interval (§2.5.1.4). All share the event's timestamp; the sender gives each
 * its own sequence number.
 */
export function planDigit(event: number, durationMs: number, volume: number, clockRate: number): PlannedEventPacket[] {
  const step = DTMF_PACKET_INTERVAL_MS;
  const updates = Math.max(1, Math.ceil(durationMs / step));
  const units = (ms: number): number => Math.round((ms * clockRate) / 1000);
  const out: PlannedEventPacket[] = [];
  for (let k = 0; k < updates; k++) {
    out.push({
      atMs: k * step,
      marker: k === 0,
      payload: { event, end: false, volume, duration: units(Math.min(durationMs, (k + 1) * step)) },
    });
  }
  for (let k = 0; k < 3; k++) {
    out.push({
      atMs: (updates + k) * step,
      marker: false,
      payload: { event, end: true, volume, duration: units(durationMs) },
    });
  }
  return out;
}

/**
 * Reassembles received events: one report per event (identified by its RTP
 * timestamp, §2.5.2.1), on the first end packet; repeated end packets and
 * updates of an ended event are ignored. An event whose end packets were all
 * lost is reported when the next event starts, with its last known duration.
 */
export class DtmfReceiver {
  readonly #sink: (digit: string, durationMs: number) => void;
  readonly #clockRate: number;
  #timestamp = -1;
  #event = -1;
  #duration = 0;
  #ended = true;

  constructor(clockRate: number, sink: (digit: string, durationMs: number) => void) {
    this.#clockRate = clockRate;
    this.#sink = sink;
  }

  /** @throws ParseError for a payload shorter than 4 bytes. */
  push(payload: Buffer, timestamp: number): void {
    const e = decodeTelephoneEvent(payload);
    if (timestamp !== this.#timestamp) {
      if (!this.#ended) this.#report();
      this.#timestamp = timestamp;
      this.#event = e.event;
      this.#duration = 0;
      this.#ended = false;
    } else if (this.#ended) {
      return;
    }
    if (e.duration > this.#duration) this.#duration = e.duration;
    if (e.end) {
      this.#ended = true;
      this.#report();
    }
  }

  #report(): void {
    const digit = dtmfDigit(this.#event);
    if (digit !== null) this.#sink(digit, Math.round((this.#duration * 1000) / this.#clockRate));
  }
}
