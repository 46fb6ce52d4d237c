/**
 * Client side of the simple (non-digest) RTMP handshake (RTMP spec 1.0 §5.2):
 * C0 (version 3) + C1 (time, zero, 1528 random bytes) → S0 + S1 + S2 → C2
 * (echo of S1). The zero field in C1 tells servers that support the digest
 * ("complex") handshake to fall back to this one; publishing needs no digest.
 */
import { randomFillSync } from 'node:crypto';
import { ParseError } from '../shared/index.js';

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;

export type HandshakeStep =
  | { readonly done: false; readonly send?: Buffer }
  /** `rest` holds bytes received after S2: the first chunks of the session. */
  | { readonly done: true; readonly send?: Buffer; readonly rest: Buffer };

/**
 * Pure handshake state: no socket. `start()` gives C0+C1; feed every received
 * byte to `push()` until it reports `done`, sending whatever it returns.
 */
export class HandshakeClient {
  #buf: Buffer = Buffer.alloc(0);
  #sentC2 = false;
  #done = false;
  #c1: Buffer | undefined;
  readonly #epoch: number;

  /** `epochMs` is the time origin of the handshake timestamps (tests pin it). */
  constructor(epochMs: number = Date.now()) {
    this.#epoch = epochMs;
  }

  /** C0 + C1. */
  start(nowMs: number = Date.now()): Buffer {
    const b = Buffer.alloc(1 + HANDSHAKE_SIZE);
    b[0] = RTMP_VERSION;
    b.writeUInt32BE((nowMs - this.#epoch) >>> 0, 1);
    // bytes 5..8 stay zero: "simple" handshake
    randomFillSync(b, 9, HANDSHAKE_SIZE - 8);
    this.#c1 = b.subarray(1);
    return b;
  }

  /** The C1 sent (tests compare S2 with it). */
  get c1(): Buffer | undefined {
    return this.#c1;
  }

  push(data: Buffer, nowMs: number = Date.now()): HandshakeStep {
    if (this.#done) throw new ParseError('RTMP handshake already complete');
    this.#buf = this.#buf.length === 0 ? data : Buffer.concat([this.#buf, data]);
    let send: Buffer | undefined;
    if (!this.#sentC2) {
      if (this.#buf.length < 1) return { done: false };
      const version = this.#buf[0] as number;
      // Version 3 is plain RTMP; 6 is RTMPE, which we never ask for.
      if (version !== RTMP_VERSION) throw new ParseError(`RTMP handshake: server version ${version}`);
      if (this.#buf.length < 1 + HANDSHAKE_SIZE) return { done: false };
      const s1 = this.#buf.subarray(1, 1 + HANDSHAKE_SIZE);
      // C2 echoes S1: its time, our read time, its random bytes (§5.2.4).
      send = Buffer.from(s1);
      send.writeUInt32BE((nowMs - this.#epoch) >>> 0, 4);
      this.#sentC2 = true;
    }
    const total = 1 + 2 * HANDSHAKE_SIZE;
    if (this.#buf.length < total) return send ? { done: false, send } : { done: false };
    // S2 should echo C1; servers that speak the digest handshake answer with
    // their own bytes instead, so S2 is not checked (FFmpeg does the same).
    this.#done = true;
    const rest = Buffer.from(this.#buf.subarray(total));
    this.#buf = Buffer.alloc(0);
    return send ? { done: true, send, rest } : { done: true, rest };
  }
}
