/**
 * AAC framing helpers: ADTS headers (ISO/IEC 13818-7 §6.2 / 14496-3 §1.A.2)
 * and the 2-byte AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) that an FLV
 * AAC sequence header carries.
 */
import { ParseError } from '../shared/index.js';

/** Sampling frequencies by index (14496-3 Table 1.16). */
export const AAC_SAMPLE_RATES: readonly number[] = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

export interface AdtsHeader {
  /** 7 without CRC, 9 with CRC. */
  readonly headerLength: number;
  /** Header plus payload, in bytes. */
  readonly frameLength: number;
  /** MPEG-4 Audio Object Type = ADTS profile + 1 (2 = AAC-LC). */
  readonly objectType: number;
  readonly sampleRateIndex: number;
  readonly sampleRate: number;
  readonly channels: number;
  /** Raw data blocks in the frame (each 1024 samples). */
  readonly rawDataBlocks: number;
}

/** Parses the ADTS header at `offset`. Throws `ParseError` if it is truncated or invalid. */
export function parseAdtsHeader(buf: Buffer, offset = 0): AdtsHeader {
  if (buf.length - offset < 7) throw new ParseError('ADTS: truncated header');
  const b0 = buf[offset] as number;
  const b1 = buf[offset + 1] as number;
  const b2 = buf[offset + 2] as number;
  const b3 = buf[offset + 3] as number;
  const b4 = buf[offset + 4] as number;
  const b5 = buf[offset + 5] as number;
  const b6 = buf[offset + 6] as number;
  if (b0 !== 0xff || (b1 & 0xf0) !== 0xf0) throw new ParseError('ADTS: no syncword');
  if ((b1 & 0x06) !== 0) throw new ParseError('ADTS: layer must be 0');
  const protectionAbsent = b1 & 0x01;
  const profile = b2 >> 6;
  const sampleRateIndex = (b2 >> 2) & 0x0f;
  const sampleRate = AAC_SAMPLE_RATES[sampleRateIndex];
  if (sampleRate === undefined) throw new ParseError(`ADTS: bad sampling index ${sampleRateIndex}`);
  const channels = ((b2 & 0x01) << 2) | (b3 >> 6);
  const frameLength = ((b3 & 0x03) << 11) | (b4 << 3) | (b5 >> 5);
  const headerLength = protectionAbsent ? 7 : 9;
  if (frameLength < headerLength) throw new ParseError(`ADTS: frame length ${frameLength} too short`);
  return {
    headerLength,
    frameLength,
    objectType: profile + 1,
    sampleRateIndex,
    sampleRate,
    channels,
    rawDataBlocks: (b6 & 0x03) + 1,
  };
}

/**
 * AudioSpecificConfig: 5 bits object type, 4 bits sampling index, 4 bits
 * channel configuration, then GASpecificConfig's three zero bits
 * (frameLengthFlag, dependsOnCoreCoder, extensionFlag).
 */
export function audioSpecificConfig(cfg: { objectType: number; sampleRateIndex: number; channels: number }): Buffer {
  if (cfg.objectType < 1 || cfg.objectType > 30) throw new ParseError(`ASC: bad object type ${cfg.objectType}`);
  if (cfg.sampleRateIndex < 0 || cfg.sampleRateIndex > 12) throw new ParseError('ASC: bad sampling index');
  if (cfg.channels < 0 || cfg.channels > 7) throw new ParseError('ASC: bad channel configuration');
  const v = (cfg.objectType << 11) | (cfg.sampleRateIndex << 7) | (cfg.channels << 3);
  return Buffer.of(v >> 8, v & 0xff);
}

/** Decodes a 2-byte AudioSpecificConfig (no explicit frequency, no SBR/PS extension). */
export function parseAudioSpecificConfig(asc: Buffer): { objectType: number; sampleRateIndex: number; sampleRate: number; channels: number } {
  if (asc.length < 2) throw new ParseError('ASC: truncated');
  const v = asc.readUInt16BE(0);
  const objectType = v >> 11;
  const sampleRateIndex = (v >> 7) & 0x0f;
  const sampleRate = AAC_SAMPLE_RATES[sampleRateIndex];
  if (sampleRate === undefined) throw new ParseError(`ASC: unsupported sampling index ${sampleRateIndex}`);
  return { objectType, sampleRateIndex, sampleRate, channels: (v >> 3) & 0x0f };
}

/** Splits a buffer of whole ADTS frames into raw access units (headers stripped). */
export function splitAdts(buf: Buffer): { header: AdtsHeader; raw: Buffer }[] {
  const out: { header: AdtsHeader; raw: Buffer }[] = [];
  let off = 0;
  while (off < buf.length) {
    const header = parseAdtsHeader(buf, off);
    if (off + header.frameLength > buf.length) throw new ParseError('ADTS: truncated frame');
    out.push({ header, raw: buf.subarray(off + header.headerLength, off + header.frameLength) });
    off += header.frameLength;
  }
  return out;
}
