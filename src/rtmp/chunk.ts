/**
 * RTMP chunk stream (RTMP spec 1.0 §5.3): messages are split into chunks of
 * at most `chunkSize` payload bytes; each chunk has a basic header (fmt +
 * chunk stream id) and a message header whose size depends on fmt (11/7/3/0
 * bytes). Pure code: bytes in, values out.
 */
import { ParseError } from '../shared/index.js';

/** A reassembled RTMP message. */
export interface RtmpMessage {
  /** Chunk stream id it arrived on (2 = protocol control). */
  readonly csid: number;
  /** Message type id (1..6 control, 8 audio, 9 video, 18 data, 20 command, ...). */
  readonly type: number;
  /** Message stream id (0 = NetConnection). */
  readonly streamId: number;
  /** Absolute timestamp in ms, modulo 2^32. */
  readonly timestamp: number;
  readonly payload: Buffer;
}

/** Message type ids (§5.4, §7.1). */
export const MSG = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  commandAmf3: 17,
  dataAmf0: 18,
  commandAmf0: 20,
} as const;

const EXTENDED = 0xffffff;
const MAX_CSID = 65599;
/** Chunk size bounds: the spec allows 1..0x7FFFFFFF; servers cap at 0xFFFFFF (§5.4.1). */
const MAX_CHUNK_SIZE = 0xffffff;

function basicHeaderSize(csid: number): number {
  if (csid < 2 || csid > MAX_CSID) throw new ParseError(`RTMP: bad chunk stream id ${csid}`);
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasicHeader(b: Buffer, o: number, fmt: number, csid: number): number {
  if (csid < 64) {
    b[o] = (fmt << 6) | csid;
    return o + 1;
  }
  if (csid < 320) {
    b[o] = fmt << 6;
    b[o + 1] = csid - 64;
    return o + 2;
  }
  b[o] = (fmt << 6) | 1;
  b[o + 1] = (csid - 64) & 0xff;
  b[o + 2] = (csid - 64) >> 8;
  return o + 3;
}

interface EncState {
  streamId: number;
  timestamp: number;
}

/**
 * Chunk encoder. Uses fmt 0 for the first message of a chunk stream, when its
 * message stream changes or its timestamp goes backwards, fmt 1 (timestamp
 * delta) otherwise, and fmt 3 for continuation chunks. Extended timestamps
 * (§5.3.1.3) are used when the field reaches 0xFFFFFF and repeated on every
 * fmt 3 chunk of that message, as Flash Media Server and FFmpeg do.
 */
export class ChunkEncoder {
  #chunkSize: number;
  readonly #streams = new Map<number, EncState>();

  constructor(chunkSize = 128) {
    this.#chunkSize = checkChunkSize(chunkSize);
  }

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Takes effect for the next message: call right after encoding our Set Chunk Size. */
  set chunkSize(size: number) {
    this.#chunkSize = checkChunkSize(size);
  }

  /** Forgets per-stream header state (a new connection starts with fmt 0 everywhere). */
  reset(): void {
    this.#streams.clear();
  }

  /** Encodes one message into one buffer holding all its chunks. */
  encode(csid: number, type: number, streamId: number, timestamp: number, payload: Buffer): Buffer {
    const sink = new ByteSink(0); // its one allocation is sized exactly by encodeTo's reserve
    this.encodeTo(sink, csid, type, streamId, timestamp, payload);
    return sink.buf;
  }

  /** Encodes one message at the end of `sink` (a batch of messages written at once). */
  encodeTo(sink: ByteSink, csid: number, type: number, streamId: number, timestamp: number, payload: Buffer): void {
    const len = payload.length;
    if (len > 0xffffff) throw new ParseError(`RTMP: message too large (${len})`);
    const ts = timestamp >>> 0;
    const st = this.#streams.get(csid);
    const fmt = st === undefined || st.streamId !== streamId || ts < st.timestamp ? 0 : 1;
    const field = fmt === 0 ? ts : ts - (st as EncState).timestamp;
    const ext = field >= EXTENDED;
    const extLen = ext ? 4 : 0;
    const bh = basicHeaderSize(csid);
    const chunks = len === 0 ? 1 : Math.ceil(len / this.#chunkSize);
    const b = sink.reserve(bh + (fmt === 0 ? 11 : 7) + extLen + len + (chunks - 1) * (bh + extLen));
    let o = writeBasicHeader(b, sink.used, fmt, csid);
    b.writeUIntBE(ext ? EXTENDED : field, o, 3);
    b.writeUIntBE(len, o + 3, 3);
    b[o + 6] = type;
    o += 7;
    if (fmt === 0) {
      b.writeUInt32LE(streamId >>> 0, o); // little-endian: §5.3.1.2.1
      o += 4;
    }
    if (ext) {
      b.writeUInt32BE(field >>> 0, o);
      o += 4;
    }
    let p = 0;
    for (let i = 0; i < chunks; i++) {
      if (i > 0) {
        o = writeBasicHeader(b, o, 3, csid);
        if (ext) {
          b.writeUInt32BE(field >>> 0, o);
          o += 4;
        }
      }
      const n = Math.min(this.#chunkSize, len - p);
      payload.copy(b, o, p, p + n);
      o += n;
      p += n;
    }
    sink.used = o;
    if (st === undefined) this.#streams.set(csid, { streamId, timestamp: ts });
    else {
      st.streamId = streamId;
      st.timestamp = ts;
    }
  }
}

/**
 * A growing buffer that messages are encoded into, back to back; `bytes()`
 * is what was written. Grows by doubling (a copy), so size it for its batch.
 */
export class ByteSink {
  buf: Buffer;
  used = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes room for `n` more bytes; returns the buffer to write at `used`. */
  reserve(n: number): Buffer {
    if (this.used + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + n));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    return this.buf;
  }

  append(bytes: Buffer): void {
    bytes.copy(this.reserve(bytes.length), this.used);
    this.used += bytes.length;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.used);
  }
}

function checkChunkSize(n: number, max = MAX_CHUNK_SIZE): number {
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ParseError(`RTMP: bad chunk size ${n} (at most ${max})`);
  return n;
}

interface DecState {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
  payload: Buffer | undefined;
  received: number;
}

/** Limits the memory one peer can make us allocate. */
export interface ChunkDecoderOptions {
  /** Largest message accepted, bytes (default 16 MiB - 1, the field's maximum). */
  maxMessageSize?: number;
  /** Most chunk streams tracked at once (default 64). */
  maxChunkStreams?: number;
  /** Largest chunk size a Set Chunk Size may announce (default 0xFFFFFF). */
  maxChunkSize?: number;
}

/**
 * Streaming chunk decoder: reassembles messages across interleaved chunk
 * streams. A received Set Chunk Size (§5.4.1) applies to the chunks after it,
 * and an Abort (§5.4.2) drops the partial message it names; both are still
 * returned to the caller.
 */
export class ChunkDecoder {
  #chunkSize = 128;
  #buf: Buffer = Buffer.alloc(0);
  readonly #streams = new Map<number, DecState>();
  readonly #maxMessage: number;
  readonly #maxStreams: number;
  readonly #maxChunkSize: number;

  constructor(opts: ChunkDecoderOptions = {}) {
    this.#maxMessage = opts.maxMessageSize ?? 0xffffff;
    this.#maxStreams = opts.maxChunkStreams ?? 64;
    this.#maxChunkSize = opts.maxChunkSize ?? MAX_CHUNK_SIZE;
  }

  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Feeds bytes; returns the messages completed by them. Throws `ParseError` on a protocol violation. */
  push(data: Buffer): RtmpMessage[] {
    const buf = this.#buf.length === 0 ? data : Buffer.concat([this.#buf, data]);
    const out: RtmpMessage[] = [];
    let off = 0;
    for (;;) {
      const used = this.#chunk(buf, off, out);
      if (used === 0) break;
      off += used;
    }
    this.#buf = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    return out;
  }

  /** Parses one chunk at `start`; returns the bytes consumed, 0 if incomplete. */
  #chunk(buf: Buffer, start: number, out: RtmpMessage[]): number {
    const avail = buf.length - start;
    if (avail < 1) return 0;
    const b0 = buf[start] as number;
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    let o = start + 1;
    if (csid === 0) {
      if (avail < 2) return 0;
      csid = 64 + (buf[o] as number);
      o += 1;
    } else if (csid === 1) {
      if (avail < 3) return 0;
      csid = 64 + (buf[o] as number) + ((buf[o + 1] as number) << 8);
      o += 2;
    }
    const mh = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
    if (buf.length - o < mh) return 0;
    let st = this.#streams.get(csid);
    if (st === undefined) {
      if (fmt !== 0) throw new ParseError(`RTMP: fmt ${fmt} chunk on new chunk stream ${csid}`);
      if (this.#streams.size >= this.#maxStreams) throw new ParseError(`RTMP: more than ${this.#maxStreams} chunk streams`);
    }
    let field = 0;
    let length = st?.length ?? 0;
    let type = st?.type ?? 0;
    let streamId = st?.streamId ?? 0;
    if (fmt <= 2) field = buf.readUIntBE(o, 3);
    if (fmt <= 1) {
      length = buf.readUIntBE(o + 3, 3);
      type = buf[o + 6] as number;
    }
    if (fmt === 0) streamId = buf.readUInt32LE(o + 7);
    o += mh;
    const extended = fmt <= 2 ? field === EXTENDED : (st?.extended ?? false);
    if (extended) {
      if (buf.length - o < 4) return 0;
      const ext = buf.readUInt32BE(o);
      o += 4;
      if (fmt <= 2) field = ext;
    }
    const continuing = st !== undefined && st.payload !== undefined && fmt === 3;
    const remaining = continuing ? (st as DecState).length - (st as DecState).received : length;
    if (!continuing && length > this.#maxMessage) throw new ParseError(`RTMP: message of ${length} bytes exceeds the limit of ${this.#maxMessage}`);
    const n = Math.min(this.#chunkSize, remaining);
    if (buf.length - o < n) return 0;

    // Whole chunk available: commit header state.
    if (st === undefined) {
      st = { timestamp: 0, delta: 0, length: 0, type: 0, streamId: 0, extended: false, payload: undefined, received: 0 };
      this.#streams.set(csid, st);
    }
    if (!continuing) {
      if (fmt === 0) {
        st.timestamp = field;
        // A fmt 3 chunk starting a new message after fmt 0 reuses its timestamp as delta (§5.3.1.2.4).
        st.delta = field;
      } else if (fmt === 1 || fmt === 2) {
        st.delta = field;
        st.timestamp = (st.timestamp + field) >>> 0;
      } else {
        st.timestamp = (st.timestamp + st.delta) >>> 0;
      }
      st.length = length;
      st.type = type;
      st.streamId = streamId;
      st.extended = extended;
      st.payload = Buffer.allocUnsafe(length);
      st.received = 0;
    }
    const payload = st.payload as Buffer;
    buf.copy(payload, st.received, o, o + n);
    st.received += n;
    o += n;
    if (st.received === st.length) {
      st.payload = undefined;
      out.push({ csid, type: st.type, streamId: st.streamId, timestamp: st.timestamp, payload });
      this.#control(st.type, payload);
    }
    return o - start;
  }

  #control(type: number, payload: Buffer): void {
    if (type === MSG.setChunkSize) {
      if (payload.length < 4) throw new ParseError('RTMP: short Set Chunk Size');
      // The first bit must be zero (§5.4.1).
      this.#chunkSize = checkChunkSize(payload.readUInt32BE(0) & 0x7fffffff, this.#maxChunkSize);
    } else if (type === MSG.abort) {
      if (payload.length < 4) throw new ParseError('RTMP: short Abort');
      const st = this.#streams.get(payload.readUInt32BE(0));
      if (st !== undefined) st.payload = undefined;
    }
  }
}
