/**
 * FLV file framing (FLV spec E.2/E.3): the 9-byte header, tags with their
 * 11-byte tag header and the PreviousTagSize trailer, and a streaming demuxer
 * for FLV byte streams (e.g. ffmpeg writing `-f flv pipe:1`).
 */
import { ParseError } from '../shared/index.js';
import { FLV_TAG_TYPE, type FlvTag, type FlvTagType } from './flv.js';

const HEADER_SIZE = 9;
const TAG_HEADER_SIZE = 11;
/** Largest header (DataOffset) accepted by the demuxer. */
const MAX_HEADER_SIZE = 1024;
/** Largest tag body we accept from a demuxed stream (the field allows 16 MB). */
const MAX_TAG_SIZE = 16 * 1024 * 1024 - 1;

/** FLV header plus PreviousTagSize0 (E.2, E.3): 13 bytes. */
export function flvFileHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
  const b = Buffer.alloc(HEADER_SIZE + 4);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0);
  b.writeUInt32BE(HEADER_SIZE, 5);
  return b;
}

/** One tag as it appears in a file: tag header, body, PreviousTagSize. */
export function serializeFlvTag(tag: FlvTag): Buffer {
  const len = tag.data.length;
  if (len > MAX_TAG_SIZE) throw new ParseError(`FLV tag too large: ${len}`);
  const b = Buffer.allocUnsafe(TAG_HEADER_SIZE + len + 4);
  b[0] = FLV_TAG_TYPE[tag.type];
  b.writeUIntBE(len, 1, 3);
  // 24-bit timestamp then its upper 8 bits (TimestampExtended), E.4.1.
  const ts = tag.timestamp >>> 0;
  b.writeUIntBE(ts & 0xffffff, 4, 3);
  b[7] = ts >>> 24;
  b.writeUIntBE(0, 8, 3); // StreamID: always 0
  tag.data.copy(b, TAG_HEADER_SIZE);
  b.writeUInt32BE(TAG_HEADER_SIZE + len, TAG_HEADER_SIZE + len);
  return b;
}

/** A whole FLV file from tags (for tests, fixtures and recordings). */
export function writeFlv(tags: Iterable<FlvTag>, opts: { hasAudio?: boolean; hasVideo?: boolean } = {}): Buffer {
  const parts = [flvFileHeader(opts.hasAudio ?? true, opts.hasVideo ?? true)];
  for (const t of tags) parts.push(serializeFlvTag(t));
  return Buffer.concat(parts);
}

function tagTypeOf(n: number): FlvTagType {
  switch (n) {
    case FLV_TAG_TYPE.audio:
      return 'audio';
    case FLV_TAG_TYPE.video:
      return 'video';
    case FLV_TAG_TYPE.script:
      return 'script';
    default:
      throw new ParseError(`FLV: unknown tag type ${n}`);
  }
}

/**
 * Streaming FLV demuxer: `push()` any slice of the byte stream and get the
 * tags completed so far. Throws `ParseError` on a bad signature or tag type
 * (the stream cannot be resynchronised after that).
 */
export class FlvDemuxer {
  #buf: Buffer = Buffer.alloc(0);
  #headerDone = false;
  /** Flags byte of the header (0x04 audio, 0x01 video) once parsed. */
  hasAudio = false;
  hasVideo = false;

  push(chunk: Buffer): FlvTag[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: FlvTag[] = [];
    let off = 0;
    const buf = this.#buf;
    if (!this.#headerDone) {
      if (buf.length < HEADER_SIZE) return out;
      if (buf.toString('latin1', 0, 3) !== 'FLV') throw new ParseError('FLV: bad signature');
      const flags = buf[4] as number;
      this.hasAudio = (flags & 0x04) !== 0;
      this.hasVideo = (flags & 0x01) !== 0;
      const dataOffset = buf.readUInt32BE(5);
      // Version 1 headers are 9 bytes (E.2); a huge DataOffset would only make us buffer without end.
      if (dataOffset < HEADER_SIZE || dataOffset > MAX_HEADER_SIZE) throw new ParseError(`FLV: bad header size ${dataOffset}`);
      if (buf.length < dataOffset + 4) return out;
      off = dataOffset + 4; // skip PreviousTagSize0
      this.#headerDone = true;
    }
    while (buf.length - off >= TAG_HEADER_SIZE) {
      const typeByte = (buf[off] as number) & 0x1f; // upper bits: reserved + Filter
      const type = tagTypeOf(typeByte);
      const len = buf.readUIntBE(off + 1, 3);
      const total = TAG_HEADER_SIZE + len + 4;
      if (buf.length - off < total) break;
      const timestamp = (buf.readUIntBE(off + 4, 3) | ((buf[off + 7] as number) << 24)) >>> 0;
      // Copy the body out so the tag does not pin the whole receive buffer.
      const data = Buffer.from(buf.subarray(off + TAG_HEADER_SIZE, off + TAG_HEADER_SIZE + len));
      let key: boolean;
      if (type === 'video') key = len > 0 && (data[0] as number) >> 4 === 1;
      else key = type === 'audio';
      out.push({ type, timestamp, data, key });
      off += total;
    }
    this.#buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
    return out;
  }
}
