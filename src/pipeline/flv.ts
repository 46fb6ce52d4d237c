/**
 * FLV tags (Adobe FLV spec v10.1, Annex E) and their builders. An `FlvTag` is
 * the unit that flows from the output pipeline into every RTMP publisher: the
 * RTMP message body of an audio (8), video (9) or data (18) message is exactly
 * the FLV tag's data (RTMP spec §7.1.4/§7.1.5).
 */
import { ParseError } from '../shared/index.js';
import { encodeAmf0, type Amf0Value } from './amf0.js';

export type FlvTagType = 'audio' | 'video' | 'script';

export interface FlvTag {
  readonly type: FlvTagType;
  /** Decode timestamp in ms (FLV/RTMP timestamps are DTS; CTS rides in the AVC header). */
  readonly timestamp: number;
  /** The tag body (AUDIODATA / VIDEODATA / SCRIPTDATA). */
  readonly data: Buffer;
  /** Video: a keyframe. Audio: always true (each frame decodes on its own). Script: false. */
  readonly key: boolean;
}

/** FLV TagType values (FLV spec E.4.1). */
export const FLV_TAG_TYPE = { audio: 8, video: 9, script: 18 } as const;

/** FLV video CodecID for AVC (E.4.3.1). */
export const FLV_CODEC_AVC = 7;
/** FLV audio SoundFormat values (E.4.2.1). */
export const FLV_SOUND_FORMAT = { pcma: 7, pcmu: 8, aac: 10 } as const;

/**
 * AVC sequence header: VIDEODATA with AVCPacketType 0 carrying an
 * AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1) with 4-byte NAL
 * length fields. `sps`/`pps` are NAL units without start codes.
 */
export function avcSequenceHeader(sps: Buffer, pps: Buffer | readonly Buffer[], timestamp = 0): FlvTag {
  if (sps.length < 4) throw new ParseError('SPS too short');
  const ppsList: readonly Buffer[] = Buffer.isBuffer(pps) ? [pps] : pps;
  let size = 5 + 6 + 2 + sps.length + 1;
  for (const p of ppsList) size += 2 + p.length;
  const b = Buffer.alloc(size);
  b[0] = 0x10 | FLV_CODEC_AVC; // keyframe, AVC
  b[1] = 0; // AVCPacketType: sequence header
  // b[2..4]: composition time 0
  let o = 5;
  b[o++] = 1; // configurationVersion
  b[o++] = sps[1] as number; // AVCProfileIndication
  b[o++] = sps[2] as number; // profile_compatibility
  b[o++] = sps[3] as number; // AVCLevelIndication
  b[o++] = 0xff; // reserved 6 bits + lengthSizeMinusOne = 3
  b[o++] = 0xe1; // reserved 3 bits + numOfSequenceParameterSets = 1
  b.writeUInt16BE(sps.length, o);
  o += 2;
  sps.copy(b, o);
  o += sps.length;
  b[o++] = ppsList.length;
  for (const p of ppsList) {
    b.writeUInt16BE(p.length, o);
    o += 2;
    p.copy(b, o);
    o += p.length;
  }
  return { type: 'video', timestamp, data: b, key: true };
}

/**
 * One AVC access unit as VIDEODATA with AVCPacketType 1: each NAL unit gets a
 * 4-byte big-endian length prefix (AVCC framing, ISO/IEC 14496-15 §5.3.4.2).
 * `cts` is the composition time offset (PTS - DTS) in ms, signed 24 bits.
 */
export function avcFrame(nalus: readonly Buffer[], key: boolean, cts = 0, timestamp = 0): FlvTag {
  let size = 5;
  for (const n of nalus) size += 4 + n.length;
  const b = Buffer.allocUnsafe(size);
  b[0] = (key ? 0x10 : 0x20) | FLV_CODEC_AVC;
  b[1] = 1;
  b.writeIntBE(cts, 2, 3);
  let o = 5;
  for (const n of nalus) {
    b.writeUInt32BE(n.length, o);
    n.copy(b, o + 4);
    o += 4 + n.length;
  }
  return { type: 'video', timestamp, data: b, key };
}

/** AAC sequence header: AUDIODATA (0xAF) with AACPacketType 0 and the AudioSpecificConfig. */
export function aacSequenceHeader(asc: Buffer, timestamp = 0): FlvTag {
  const b = Buffer.allocUnsafe(2 + asc.length);
  // The FLV spec says AAC is always signalled as 44 kHz, 16-bit, stereo (0xAF):
  // the decoder takes the real values from the AudioSpecificConfig (E.4.2.1).
  b[0] = 0xaf;
  b[1] = 0;
  asc.copy(b, 2);
  return { type: 'audio', timestamp, data: b, key: true };
}

/** One raw AAC access unit (no ADTS header) as AUDIODATA with AACPacketType 1. */
export function aacFrame(raw: Buffer, timestamp = 0): FlvTag {
  const b = Buffer.allocUnsafe(2 + raw.length);
  b[0] = 0xaf;
  b[1] = 1;
  raw.copy(b, 2);
  return { type: 'audio', timestamp, data: b, key: true };
}

/**
 * G.711 8 kHz mono passed through (audio "copy"): SoundFormat 7 (A-law) or 8
 * (µ-law), 16-bit, mono. The rate bits are ignored for G.711 (E.4.2.1 notes
 * 8 kHz is implied by the format), so they are 0.
 */
export function g711Frame(data: Buffer, law: 'PCMA' | 'PCMU', timestamp = 0): FlvTag {
  const b = Buffer.allocUnsafe(1 + data.length);
  b[0] = ((law === 'PCMA' ? FLV_SOUND_FORMAT.pcma : FLV_SOUND_FORMAT.pcmu) << 4) | 0x02;
  data.copy(b, 1);
  return { type: 'audio', timestamp, data: b, key: true };
}

/** Stream properties announced in onMetaData (FLV spec E.5). Only the given keys are written. */
export interface FlvMetadata {
  width?: number;
  height?: number;
  framerate?: number;
  videodatarate?: number;
  /** 7 for AVC. */
  videocodecid?: number;
  audiodatarate?: number;
  /** 10 for AAC, 7/8 for G.711. */
  audiocodecid?: number;
  audiosamplerate?: number;
  audiosamplesize?: number;
  audiochannels?: number;
  stereo?: boolean;
  duration?: number;
  encoder?: string;
}

const METADATA_KEYS: readonly (keyof FlvMetadata)[] = [
  'duration', 'width', 'height', 'videodatarate', 'framerate', 'videocodecid',
  'audiodatarate', 'audiosamplerate', 'audiosamplesize', 'audiochannels', 'stereo',
  'audiocodecid', 'encoder',
];

/**
 * The onMetaData script tag. For publishing (`setDataFrame`, the default) the
 * body is `'@setDataFrame', 'onMetaData', ECMA array`: the server strips the
 * first string and stores the rest for every player. In an FLV file it is just
 * `'onMetaData', ECMA array`.
 */
export function onMetaData(meta: FlvMetadata, opts: { setDataFrame?: boolean } = {}): FlvTag {
  const arr = new Map<string, Amf0Value>();
  for (const k of METADATA_KEYS) {
    const v = meta[k];
    if (v !== undefined) arr.set(k, v);
  }
  const data = opts.setDataFrame === false
    ? encodeAmf0('onMetaData', arr)
    : encodeAmf0('@setDataFrame', 'onMetaData', arr);
  return { type: 'script', timestamp: 0, data, key: false };
}

/** True for an AVC or AAC sequence header (decoder configuration, not media). */
export function isSequenceHeader(tag: FlvTag): boolean {
  const d = tag.data;
  if (d.length < 2) return false;
  if (tag.type === 'video') return ((d[0] as number) & 0x0f) === FLV_CODEC_AVC && d[1] === 0;
  if (tag.type === 'audio') return (d[0] as number) >> 4 === FLV_SOUND_FORMAT.aac && d[1] === 0;
  return false;
}
