/**
 * VP8 RTP depacketizer (RFC 7741): strips the payload descriptor (§4.2) and
 * joins the packets of one frame (same timestamp, marker on the last, §4.1).
 * A frame starts with S=1 and partition index 0; it is a keyframe when the
 * P bit of the VP8 payload header is 0 (§4.3, RFC 6386 §9.1). Pure: frames
 * and keyframe requests go to callbacks.
 *
 * Loss policy (as for H.264): a frame with a missing packet is dropped and
 * nothing is emitted until the next keyframe, which is requested; output
 * also starts on a keyframe. (Frames marked non-reference could be kept,
 * but far ends rarely mark them; the keyframe wait is the safe choice.)
 */
import { ParseError } from '../shared/index.js';
import { MAX_FRAME_BYTES } from './h264-depacketizer.js';

export interface Vp8Sinks {
  frame: (data: Buffer, key: boolean, timestamp: number) => void;
  keyframeNeeded: (reason: string) => void;
}

export interface Vp8Counters {
  frames: number;
  keyframes: number;
  corrupt: number;
  heldBack: number;
}

/** The payload descriptor's length and flags (RFC 7741 §4.2). @throws ParseError when truncated. */
export function parseVp8Descriptor(p: Buffer): { headerLength: number; start: boolean; partition: number } {
  if (p.length < 1) throw new ParseError('empty VP8 payload');
  const b0 = p[0]!;
  let o = 1;
  if (b0 & 0x80) {
    if (p.length < 2) throw new ParseError('VP8 descriptor truncated');
    const x = p[1]!;
    o = 2;
    if (x & 0x80) {
      // PictureID: M bit set → 15 bits over two octets.
      if (p.length < o + 1) throw new ParseError('VP8 PictureID truncated');
      o += p[o]! & 0x80 ? 2 : 1;
    }
    if (x & 0x40) o += 1; // TL0PICIDX
    if (x & 0x30) o += 1; // TID / Y / KEYIDX
  }
  if (o >= p.length) throw new ParseError('VP8 payload without data');
  return { headerLength: o, start: (b0 & 0x10) !== 0, partition: b0 & 0x07 };
}

/** Picture size from a VP8 keyframe (RFC 6386 §9.1), or null when `frame` is not one. */
export function vp8KeyframeSize(frame: Buffer): { width: number; height: number } | null {
  if (frame.length < 10 || (frame[0]! & 0x01) !== 0) return null;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return null;
  return { width: frame.readUInt16LE(6) & 0x3fff, height: frame.readUInt16LE(8) & 0x3fff };
}

export class Vp8Depacketizer {
  readonly counters: Vp8Counters = { frames: 0, keyframes: 0, corrupt: 0, heldBack: 0 };
  readonly #sinks: Vp8Sinks;
  #parts: Buffer[] = [];
  #timestamp = 0;
  #active = false;
  #corrupt = false;
  #waitingForKey = true;
  /** Payload bytes of the pending frame. */
  #bytes = 0;

  constructor(sinks: Vp8Sinks) {
    this.#sinks = sinks;
  }

  get waitingForKeyframe(): boolean {
    return this.#waitingForKey;
  }

  /** Feeds the next packet in sequence order; `gapBefore` > 0 means packets were lost just before it. */
  push(payload: Buffer, timestamp: number, marker: boolean, gapBefore: number): void {
    if (gapBefore > 0) {
      if (this.#active) this.#corrupt = true;
      else this.#breakChain('packet loss');
    }
    if (this.#active && timestamp !== this.#timestamp) this.#flush();
    let d;
    try {
      d = parseVp8Descriptor(payload);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      if (this.#active) this.#corrupt = true;
      if (marker) this.#flush();
      return;
    }
    const first = d.start && d.partition === 0;
    if (!this.#active) {
      this.#active = true;
      this.#timestamp = timestamp;
      // A frame whose first packet is missing cannot be decoded.
      if (!first) this.#corrupt = true;
    } else if (first) {
      this.#corrupt = true; // a second frame start under one timestamp
    }
    this.#bytes += payload.length;
    if (this.#bytes > MAX_FRAME_BYTES) {
      // A frame that never ends (no marker, one timestamp): dropped, its memory freed at once.
      this.#corrupt = true;
      this.#parts = [];
    } else {
      this.#parts.push(payload.subarray(d.headerLength));
    }
    if (marker) this.#flush();
  }

  flush(): void {
    if (this.#active) this.#flush();
  }

  /** Forgets the partial frame and waits for a keyframe (new SSRC). */
  reset(): void {
    this.#clear();
    this.#waitingForKey = true;
  }

  #flush(): void {
    const ts = this.#timestamp;
    const broken = this.#corrupt;
    const parts = this.#parts;
    this.#clear();
    if (broken) {
      this.counters.corrupt++;
      this.#breakChain('incomplete frame');
      return;
    }
    if (parts.length === 0) return;
    const frame = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const key = (frame[0]! & 0x01) === 0;
    if (this.#waitingForKey && !key) {
      this.counters.heldBack++;
      return;
    }
    this.#waitingForKey = false;
    this.counters.frames++;
    if (key) this.counters.keyframes++;
    this.#sinks.frame(frame, key, ts);
  }

  #breakChain(reason: string): void {
    this.#waitingForKey = true;
    this.#sinks.keyframeNeeded(reason);
  }

  #clear(): void {
    this.#parts = [];
    this.#corrupt = false;
    this.#active = false;
    this.#bytes = 0;
  }
}
