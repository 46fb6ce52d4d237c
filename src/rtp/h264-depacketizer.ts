/**
 * H.264 RTP depacketizer (RFC 6184), packetization modes 0 and 1: single NAL
 * unit packets (§5.6), STAP-A (§5.7.1) and FU-A (§5.8). Builds whole access
 * units from in-order packets (the jitter buffer's output), by RTP timestamp
 * and marker bit (§5.1). Pure: frames and keyframe requests go to callbacks.
 *
 * Loss policy: an access unit with a missing packet is dropped, a keyframe is
 * requested, and nothing is emitted until the next IDR, because every later
 * P-frame references the broken picture. The depacketizer also starts in
 * that state, so output begins on a keyframe. NAL units are views into the
 * received datagrams (Node gives each datagram its own buffer), not copies.
 */
import { NAL, ParseError, nalType } from '../shared/index.js';


/** Largest access unit (frame) accepted, bytes: a 4K keyframe stays far below; past it the unit is dropped. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;

export interface H264Sinks {
  /** A complete access unit: NAL units without start codes; `key` when it holds an IDR slice. */
  frame: (nalus: Buffer[], key: boolean, timestamp: number) => void;
  /** The stream is broken (or has not started) until an IDR: ask the sender for one. */
  keyframeNeeded: (reason: string) => void;
}

export interface H264Counters {
  frames: number;
  keyframes: number;
  /** Access units dropped because a packet of theirs was lost or malformed. */
  corrupt: number;
  /** Complete access units held back while waiting for an IDR. */
  heldBack: number;
  /** Packets of modes we do not support (STAP-B, MTAP, FU-B) or reserved types. */
  unsupported: number;
}

export class H264Depacketizer {
  readonly counters: H264Counters = { frames: 0, keyframes: 0, corrupt: 0, heldBack: 0, unsupported: 0 };
  readonly #sinks: H264Sinks;
  #nalus: Buffer[] = [];
  #timestamp = 0;
  #active = false;
  #corrupt = false;
  #fuParts: Buffer[] = [];
  #fuInProgress = false;
  #waitingForIdr = true;
  /** Payload bytes of the pending access unit. */
  #bytes = 0;

  constructor(sinks: H264Sinks) {
    this.#sinks = sinks;
  }

  /** True until an IDR has been emitted after start or after a loss. */
  get waitingForIdr(): boolean {
    return this.#waitingForIdr;
  }

  /**
   * Feeds the next packet in sequence order. `gapBefore` > 0 means packets
   * were lost just before this one (from the jitter buffer).
   */
  push(payload: Buffer, timestamp: number, marker: boolean, gapBefore: number): void {
    if (gapBefore > 0) {
      // The lost packets belonged to the pending access unit (its flush then
      // asks for a keyframe) or to units we never saw; either way the
      // reference chain is broken.
      if (this.#active) this.#corrupt = true;
      else this.#breakChain('packet loss');
    }
    if (this.#active && timestamp !== this.#timestamp) {
      // New timestamp without a marker on the previous unit (§5.1 allows it).
      this.#flush();
    }
    if (!this.#active) {
      this.#active = true;
      this.#timestamp = timestamp;
    }
    this.#bytes += payload.length;
    if (this.#bytes > MAX_FRAME_BYTES) {
      // A unit that never ends (no marker, one timestamp): dropped, its memory freed at once.
      this.#corrupt = true;
      this.#nalus = [];
      this.#fuParts = [];
    } else {
      try {
        this.#parse(payload);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        this.#corrupt = true;
      }
    }
    if (marker) this.#flush();
  }

  /** Emits (or drops) a pending access unit, e.g. when the stream goes idle. */
  flush(): void {
    if (this.#active) this.#flush();
  }

  /** Forgets the partial unit and waits for an IDR again (new SSRC). */
  reset(): void {
    this.#clear();
    this.#waitingForIdr = true;
  }

  #parse(p: Buffer): void {
    if (p.length < 1) throw new ParseError('empty H.264 payload');
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.#endFuIfOpen();
      this.#nalus.push(p);
    } else if (type === NAL.STAP_A) {
      this.#endFuIfOpen();
      // §5.7.1: 16-bit NALU size, then the NAL unit, repeated.
      let o = 1;
      while (o < p.length) {
        if (o + 2 > p.length) throw new ParseError('STAP-A size truncated');
        const size = p.readUInt16BE(o);
        o += 2;
        if (size === 0 || o + size > p.length) throw new ParseError('STAP-A NAL unit truncated');
        this.#nalus.push(p.subarray(o, o + size));
        o += size;
      }
    } else if (type === NAL.FU_A) {
      this.#fuA(p);
    } else {
      this.counters.unsupported++;
    }
  }

  #fuA(p: Buffer): void {
    if (p.length < 3) throw new ParseError('FU-A too short');
    const fuHeader = p[1]!;
    const start = (fuHeader & 0x80) !== 0;
    const end = (fuHeader & 0x40) !== 0;
    if (start) {
      if (this.#fuInProgress) throw new ParseError('FU-A start inside an unfinished FU-A');
      // §5.8: the NAL header is F and NRI from the FU indicator, type from the FU header.
      const nalHeader = Buffer.allocUnsafe(1);
      nalHeader[0] = (p[0]! & 0xe0) | (fuHeader & 0x1f);
      this.#fuParts = [nalHeader, p.subarray(2)];
      this.#fuInProgress = true;
    } else {
      if (!this.#fuInProgress) throw new ParseError('FU-A fragment without a start');
      this.#fuParts.push(p.subarray(2));
    }
    if (end) {
      this.#nalus.push(Buffer.concat(this.#fuParts));
      this.#fuParts = [];
      this.#fuInProgress = false;
    }
  }

  #endFuIfOpen(): void {
    if (this.#fuInProgress) throw new ParseError('FU-A interrupted by another NAL unit');
  }

  #flush(): void {
    const timestamp = this.#timestamp;
    const broken = this.#corrupt || this.#fuInProgress;
    const nalus = this.#nalus;
    this.#clear();
    if (broken) {
      this.counters.corrupt++;
      this.#breakChain('incomplete access unit');
      return;
    }
    if (nalus.length === 0) return;
    let key = false;
    for (const n of nalus) {
      if (nalType(n) === NAL.IDR) {
        key = true;
        break;
      }
    }
    if (this.#waitingForIdr && !key) {
      this.counters.heldBack++;
      return;
    }
    this.#waitingForIdr = false;
    this.counters.frames++;
    if (key) this.counters.keyframes++;
    this.#sinks.frame(nalus, key, timestamp);
  }

  #breakChain(reason: string): void {
    this.#waitingForIdr = true;
    this.#sinks.keyframeNeeded(reason);
  }

  #clear(): void {
    this.#nalus = [];
    this.#fuParts = [];
    this.#fuInProgress = false;
    this.#corrupt = false;
    this.#active = false;
    this.#bytes = 0;
  }
}
