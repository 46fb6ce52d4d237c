/**
 * H.264 in FLV (FLV spec E.4.3.1, ISO 14496-15 §5.2.4.1): the decoder
 * configuration record of an AVC sequence header, and the length-prefixed
 * NAL units of an AVC NALU tag. Pure; throws ParseError.
 */
import { ParseError } from '../shared/index.js';
import { FLV_CODEC_AVC } from './flv.js';

/** H.264 decoder configuration from an FLV AVC sequence header (AVCDecoderConfigurationRecord, 14496-15 §5.2.4.1). */
export interface AvcConfig {
  lengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

/** Parses an FLV AVC sequence header tag body. Throws ParseError. */
export function parseAvcSequenceHeader(data: Buffer): AvcConfig {
  if (data.length < 11 || ((data[0] as number) & 0x0f) !== FLV_CODEC_AVC || data[1] !== 0) throw new ParseError('not an AVC sequence header');
  let o = 5;
  if (data[o] !== 1) throw new ParseError('AVCDecoderConfigurationRecord: bad version');
  const lengthSize = ((data[o + 4] as number) & 0x03) + 1;
  const numSps = (data[o + 5] as number) & 0x1f;
  o += 6;
  const take = (): Buffer => {
    if (o + 2 > data.length) throw new ParseError('AVCDecoderConfigurationRecord: truncated');
    const len = data.readUInt16BE(o);
    o += 2;
    if (o + len > data.length) throw new ParseError('AVCDecoderConfigurationRecord: truncated parameter set');
    const b = data.subarray(o, o + len);
    o += len;
    return b;
  };
  const sps: Buffer[] = [];
  for (let i = 0; i < numSps; i++) sps.push(take());
  if (o >= data.length) throw new ParseError('AVCDecoderConfigurationRecord: no PPS count');
  const numPps = data[o++] as number;
  const pps: Buffer[] = [];
  for (let i = 0; i < numPps; i++) pps.push(take());
  return { lengthSize, sps, pps };
}


/** The NAL units of an FLV AVC NALU tag body (after its 5-byte header), length prefixes removed; views into `data`. */
export function avcNalUnits(data: Buffer, lengthSize: number): Buffer[] {
  const out: Buffer[] = [];
  let o = 5;
  while (o < data.length) {
    if (o + lengthSize > data.length) throw new ParseError('AVC NALU tag: truncated length');
    const len = data.readUIntBE(o, lengthSize);
    o += lengthSize;
    if (o + len > data.length) throw new ParseError('AVC NALU tag: truncated NAL unit');
    out.push(data.subarray(o, o + len));
    o += len;
  }
  return out;
}
