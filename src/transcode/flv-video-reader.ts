/**
 * Reads the H.264 video tags of an FLV byte stream (FLV spec E.4.3): what
 * ffmpeg writes on stdout when it transcodes video for us. Returns access
 * units as NAL units (AVCC length prefixes removed) with the tag time; the
 * parameter sets from the AVC sequence header are put in front of every
 * keyframe, so a consumer sees the same shape as H.264 received over RTP.
 * Pure and incremental: push chunks, get frames.
 */
import { ParseError } from '../shared/index.js';

export interface FlvVideoFrame {
  nalus: Buffer[];
  key: boolean;
  /** Decode time in ms (FLV timestamp); no B-frames here, so also the presentation time. */
  ms: number;
}

const TAG_HEADER = 11;
/** FLV tag type of video (FLV spec E.4.1). */
const FLV_VIDEO_TAG = 9;

export class FlvVideoReader {
  #buf: Buffer = Buffer.alloc(0);
  #headerDone = false;
  #paramSets: Buffer[] = [];
  #lengthSize = 4;

  push(chunk: Buffer): FlvVideoFrame[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const buf = this.#buf;
    const out: FlvVideoFrame[] = [];
    let o = 0;
    if (!this.#headerDone) {
      if (buf.length < 13) return out;
      if (buf.toString('latin1', 0, 3) !== 'FLV') throw new ParseError('FLV: bad signature');
      o = buf.readUInt32BE(5) + 4;
      this.#headerDone = true;
    }
    while (buf.length - o >= TAG_HEADER) {
      const len = buf.readUIntBE(o + 1, 3);
      if (buf.length - o < TAG_HEADER + len + 4) break;
      if ((buf[o]! & 0x1f) === FLV_VIDEO_TAG && len >= 5) {
        const ms = (buf.readUIntBE(o + 4, 3) | (buf[o + 7]! << 24)) >>> 0;
        const frame = this.#video(buf.subarray(o + TAG_HEADER, o + TAG_HEADER + len), ms);
        if (frame) out.push(frame);
      }
      o += TAG_HEADER + len + 4;
    }
    this.#buf = o === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(o));
    return out;
  }

  #video(d: Buffer, ms: number): FlvVideoFrame | null {
    if ((d[0]! & 0x0f) !== 7) throw new ParseError('FLV: video codec is not AVC');
    const key = d[0]! >> 4 === 1;
    const body = d.subarray(5);
    if (d[1] === 0) {
      this.#config(body);
      return null;
    }
    if (d[1] !== 1) return null;
    const nalus: Buffer[] = key ? [...this.#paramSets] : [];
    let o = 0;
    const n = this.#lengthSize;
    while (o + n <= body.length) {
      const size = body.readUIntBE(o, n);
      o += n;
      if (o + size > body.length) throw new ParseError('FLV: NAL unit runs past its tag');
      nalus.push(Buffer.from(body.subarray(o, o + size)));
      o += size;
    }
    return { nalus, key, ms };
  }

  /** AVCDecoderConfigurationRecord (ISO 14496-15 §5.2.4.1): NAL length size, SPS and PPS. */
  #config(r: Buffer): void {
    if (r.length < 7) throw new ParseError('FLV: AVC configuration too short');
    this.#lengthSize = (r[4]! & 0x03) + 1;
    const sets: Buffer[] = [];
    let o = 5;
    for (const countMask of [0x1f, 0xff]) {
      const count = r[o]! & countMask;
      o++;
      for (let i = 0; i < count; i++) {
        const size = r.readUInt16BE(o);
        sets.push(Buffer.from(r.subarray(o + 2, o + 2 + size)));
        o += 2 + size;
      }
    }
    this.#paramSets = sets;
  }
}
