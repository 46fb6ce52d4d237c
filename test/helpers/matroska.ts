/**
 * A minimal live Matroska writer: the cheapest container that carries every
 * codec we receive (H.264, VP8, Opus, G.711, G.722, Speex) through a pipe
 * into ffmpeg with timestamps (PEERS: WebM refuses H.264/G.711, MPEG-TS does
 * not demux VP8/G.711, FLV cannot carry VP8/Opus). One track per writer;
 * Segment and Clusters have the "unknown" size (Matroska spec §EBML/Unknown
 * data size), so nothing is ever rewritten: header once, then SimpleBlocks,
 * with a new Cluster whenever a block's time no longer fits the 16-bit
 * relative timecode. Pure: values in, bytes out. Timecode scale 1 ms.
 */

/** A codec as Matroska names it, with what its decoder needs. */
export interface MatroskaTrack {
  kind: 'audio' | 'video';
  /** `A_OPUS`, `A_MS/ACM`, `V_VP8`, `V_MPEG4/ISO/AVC`, … */
  codecId: string;
  codecPrivate?: Buffer;
  /** Audio: sampling frequency and channels. */
  sampleRate?: number;
  channels?: number;
  /** Video: picture size (decoders take the real one from the bitstream). */
  width?: number;
  height?: number;
}

const ID = {
  EBML: 0x1a45dfa3, EBMLVersion: 0x4286, EBMLReadVersion: 0x42f7, EBMLMaxIDLength: 0x42f2, EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282, DocTypeVersion: 0x4287, DocTypeReadVersion: 0x4285,
  Segment: 0x18538067, Info: 0x1549a966, TimecodeScale: 0x2ad7b1, MuxingApp: 0x4d80, WritingApp: 0x5741,
  Tracks: 0x1654ae6b, TrackEntry: 0xae, TrackNumber: 0xd7, TrackUID: 0x73c5, TrackType: 0x83, FlagLacing: 0x9c,
  CodecID: 0x86, CodecPrivate: 0x63a2, Audio: 0xe1, SamplingFrequency: 0xb5, Channels: 0x9f,
  Video: 0xe0, PixelWidth: 0xb0, PixelHeight: 0xba,
  Cluster: 0x1f43b675, Timecode: 0xe7, SimpleBlock: 0xa3,
} as const;

/** The 8-byte "unknown size" vint. */
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

function idBytes(id: number): Buffer {
  const len = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const b = Buffer.alloc(len);
  b.writeUIntBE(id, 0, len);
  return b;
}

/** EBML variable-size integer for an element size (1-8 bytes, the all-ones value reserved). */
export function vintSize(n: number): Buffer {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const b = Buffer.alloc(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        b[i] = v % 256;
        v = Math.floor(v / 256);
      }
      b[0] = (b[0] as number) | (0x80 >> (len - 1));
      return b;
    }
  }
  throw new RangeError('element too large');
}

function el(id: number, body: Buffer): Buffer {
  return Buffer.concat([idBytes(id), vintSize(body.length), body]);
}

function uint(id: number, v: number): Buffer {
  let len = 1;
  while (len < 8 && v >= 2 ** (8 * len)) len++;
  const b = Buffer.alloc(len);
  b.writeUIntBE(v, 0, Math.min(len, 6));
  return el(id, b);
}

function str(id: number, s: string): Buffer {
  return el(id, Buffer.from(s, 'utf8'));
}

function float(id: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(v);
  return el(id, b);
}

/** Writes one track as a live Matroska stream. */
export class MatroskaWriter {
  readonly #track: MatroskaTrack;
  #clusterMs = -Infinity;

  constructor(track: MatroskaTrack) {
    this.#track = track;
  }

  /** EBML header, Segment (unknown size), Info and Tracks: write once, first. */
  header(): Buffer {
    const t = this.#track;
    const ebml = el(ID.EBML, Buffer.concat([
      uint(ID.EBMLVersion, 1), uint(ID.EBMLReadVersion, 1), uint(ID.EBMLMaxIDLength, 4), uint(ID.EBMLMaxSizeLength, 8),
      str(ID.DocType, 'matroska'), uint(ID.DocTypeVersion, 4), uint(ID.DocTypeReadVersion, 2),
    ]));
    const info = el(ID.Info, Buffer.concat([uint(ID.TimecodeScale, 1_000_000), str(ID.MuxingApp, 'gw'), str(ID.WritingApp, 'gw')]));
    const entry: Buffer[] = [
      uint(ID.TrackNumber, 1), uint(ID.TrackUID, 1), uint(ID.TrackType, t.kind === 'video' ? 1 : 2), uint(ID.FlagLacing, 0),
      str(ID.CodecID, t.codecId),
    ];
    if (t.codecPrivate) entry.push(el(ID.CodecPrivate, t.codecPrivate));
    if (t.kind === 'audio') {
      entry.push(el(ID.Audio, Buffer.concat([float(ID.SamplingFrequency, t.sampleRate ?? 8000), uint(ID.Channels, t.channels ?? 1)])));
    } else {
      entry.push(el(ID.Video, Buffer.concat([uint(ID.PixelWidth, t.width ?? 640), uint(ID.PixelHeight, t.height ?? 360)])));
    }
    const tracks = el(ID.Tracks, el(ID.TrackEntry, Buffer.concat(entry)));
    return Buffer.concat([ebml, idBytes(ID.Segment), UNKNOWN_SIZE, info, tracks]);
  }

  /**
   * One frame at `ms` (≥ 0, integer ms on the track's timeline), preceded by
   * a new Cluster when needed (first block, a keyframe of video after 5 s, or
   * a time outside the int16 relative range).
   */
  block(data: Buffer, ms: number, key: boolean): Buffer {
    const t = Math.max(0, Math.round(ms));
    const parts: Buffer[] = [];
    let rel = t - this.#clusterMs;
    if (rel < 0 || rel > 32_000 || (key && this.#track.kind === 'video' && rel > 5000)) {
      this.#clusterMs = t;
      rel = 0;
      parts.push(idBytes(ID.Cluster), UNKNOWN_SIZE, uint(ID.Timecode, t));
    }
    // SimpleBlock: track number vint, int16 relative timecode, flags (0x80 keyframe).
    const head = Buffer.from([0x81, (rel >> 8) & 0xff, rel & 0xff, key ? 0x80 : 0]);
    parts.push(idBytes(ID.SimpleBlock), vintSize(head.length + data.length), head, data);
    return Buffer.concat(parts);
  }
}
