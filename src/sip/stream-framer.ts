/**
 * Message framing on a SIP stream (RFC 3261 §18.3): the head ends at the
 * first empty line and Content-Length, mandatory on streams, gives the body
 * length. RFC 5626 §3.5.1 keep-alives (CRLFCRLF ping, CRLF pong) between
 * messages are reported apart. Pure: bytes in, frames out; a stream that
 * cannot be framed any more throws `ParseError` (the connection must close).
 */
import { ParseError } from '../shared/index.js';

export type Frame = { kind: 'message'; data: Buffer } | { kind: 'ping' };

export interface FramerLimits {
  /** Largest head (start line + headers); beyond it the stream is refused. */
  maxHeadBytes: number;
  /** Largest body. */
  maxBodyBytes: number;
}

export const DEFAULT_FRAMER_LIMITS: Readonly<FramerLimits> = { maxHeadBytes: 16 * 1024, maxBodyBytes: 256 * 1024 };

const CONTENT_LENGTH_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$/im;

/** Splits a byte stream into SIP messages. */
export class StreamFramer {
  #buf: Buffer = Buffer.alloc(0);
  readonly #limits: FramerLimits;

  constructor(limits: FramerLimits = DEFAULT_FRAMER_LIMITS) {
    this.#limits = limits;
  }

  /** Bytes of a message waiting for the rest of it (CRLFs between messages do not count). */
  get pending(): number {
    let i = 0;
    while (i < this.#buf.length && (this.#buf[i] === 0x0d || this.#buf[i] === 0x0a)) i++;
    return this.#buf.length - i;
  }

  /** Adds bytes; returns every complete frame, in order. */
  push(chunk: Buffer): Frame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: Frame[] = [];
    for (;;) {
      // Keep-alives and CRLFs between messages (§7.5); a ping split across reads waits for its end.
      let start = 0;
      if (this.#buf.length < 4 && this.#buf.every((b) => b === 0x0d || b === 0x0a) && this.#buf[0] === 0x0d) return out;
      while (start < this.#buf.length && (this.#buf[start] === 0x0d || this.#buf[start] === 0x0a)) {
        if (this.#buf[start] === 0x0d && this.#buf[start + 1] === 0x0a && this.#buf[start + 2] === 0x0d && this.#buf[start + 3] === 0x0a) {
          out.push({ kind: 'ping' });
          start += 4;
        } else start++;
      }
      if (start > 0) this.#buf = this.#buf.subarray(start);
      if (this.#buf.length === 0) return out;
      const headEnd = this.#buf.indexOf('\r\n\r\n', 0, 'latin1');
      if (headEnd < 0) {
        if (this.#buf.length > this.#limits.maxHeadBytes) throw new ParseError(`SIP head over ${this.#limits.maxHeadBytes} bytes`);
        return out;
      }
      if (headEnd > this.#limits.maxHeadBytes) throw new ParseError(`SIP head over ${this.#limits.maxHeadBytes} bytes`);
      const head = this.#buf.toString('latin1', 0, headEnd);
      const m = CONTENT_LENGTH_RE.exec(head);
      if (!m) throw new ParseError('no Content-Length on a stream transport (RFC 3261 §18.3)');
      const v = m[1] ?? '';
      if (!/^\d{1,9}$/.test(v)) throw new ParseError(`bad Content-Length "${v.slice(0, 40)}"`);
      const length = Number(v);
      if (length > this.#limits.maxBodyBytes) throw new ParseError(`Content-Length ${length} too large`);
      const total = headEnd + 4 + length;
      if (this.#buf.length < total) return out;
      out.push({ kind: 'message', data: Buffer.from(this.#buf.subarray(0, total)) });
      this.#buf = this.#buf.subarray(total);
    }
  }
}
