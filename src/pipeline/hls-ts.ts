/**
 * MPEG-2 Transport Stream muxing of the call's FLV tags for HLS (RFC 8216
 * §3.2: MPEG-2 TS segments with H.264 and AAC in ADTS). Pure: FLV tag bodies
 * in, 188-byte TS packets out; no sockets, no timers.
 *
 * Layout (ISO/IEC 13818-1): PAT on PID 0, one program whose PMT is on PID
 * 0x1000, H.264 (stream_type 0x1B) on PID 0x100, AAC ADTS (0x0F) on PID
 * 0x101; the PCR rides on the video PID (or the audio PID without video).
 * Every segment starts with PAT + PMT so it decodes on its own.
 */
import { NAL, ParseError, nalType } from '../shared/index.js';
import { parseAudioSpecificConfig } from './aac.js';
import { FLV_SOUND_FORMAT } from './flv.js';
import { avcNalUnits, type AvcConfig } from './flv-avc.js';

export const TS_PACKET_SIZE = 188;
const PID_PMT = 0x1000;
const PID_VIDEO = 0x100;
const PID_AUDIO = 0x101;
const STREAM_TYPE_H264 = 0x1b;
const STREAM_TYPE_AAC_ADTS = 0x0f;
/** 90 kHz ticks per ms (13818-1 §2.4.3.7: PTS/DTS in 90 kHz units). */
const TICKS_PER_MS = 90;
/**
 * Offset added to every PTS/DTS: players and segmenters handle a stream that
 * starts at 0 badly when a B-frame's DTS would go below it (ffmpeg uses 1.4 s).
 */
const TS_OFFSET_MS = 1400;
const PTS_WRAP = 2 ** 33;

/** AAC decoder configuration from an FLV AAC sequence header: what each ADTS header repeats. */
export interface AacConfig {
  objectType: number;
  sampleRateIndex: number;
  sampleRate: number;
  channels: number;
}

/** Parses an FLV AAC sequence header tag body, or returns null for a non-AAC audio format. Throws ParseError. */
export function parseAacSequenceHeader(data: Buffer): AacConfig | null {
  if (data.length < 2 || (data[0] as number) >> 4 !== FLV_SOUND_FORMAT.aac) return null;
  if (data[1] !== 0) throw new ParseError('not an AAC sequence header');
  return parseAudioSpecificConfig(data.subarray(2));
}

/** ADTS header (7 bytes, no CRC) for a raw AAC frame of `rawLength` bytes (13818-7 §6.2). */
export function adtsHeader(cfg: AacConfig, rawLength: number): Buffer {
  const len = rawLength + 7;
  if (len > 0x1fff) throw new ParseError(`AAC frame too long for ADTS: ${rawLength}`);
  const profile = Math.max(0, cfg.objectType - 1) & 0x03;
  return Buffer.of(
    0xff, 0xf1, // syncword, MPEG-4, layer 0, no CRC
    (profile << 6) | (cfg.sampleRateIndex << 2) | ((cfg.channels >> 2) & 0x01),
    ((cfg.channels & 0x03) << 6) | (len >> 11),
    (len >> 3) & 0xff,
    ((len & 0x07) << 5) | 0x1f,
    0xfc, // buffer fullness 0x7FF (VBR), one raw data block
  );
}

const START_CODE = Buffer.of(0, 0, 0, 1);
/** Access unit delimiter (NAL 9, primary_pic_type 7): HLS wants one per access unit. */
const AUD = Buffer.of(0, 0, 0, 1, 0x09, 0xf0);

/**
 * An FLV AVC NALU tag body → Annex-B access unit (AUD, then SPS/PPS before a
 * keyframe, then the NAL units with start codes). Returns the AU and the
 * composition time offset (ms). Throws ParseError.
 */
export function flvAvcToAnnexB(data: Buffer, cfg: AvcConfig, key: boolean): { au: Buffer; cts: number } {
  if (data.length < 5 || data[1] !== 1) throw new ParseError('not an AVC NALU tag');
  const cts = data.readIntBE(2, 3);
  const parts: Buffer[] = [AUD];
  if (key) {
    for (const s of cfg.sps) parts.push(START_CODE, s);
    for (const p of cfg.pps) parts.push(START_CODE, p);
  }
  for (const nal of avcNalUnits(data, cfg.lengthSize)) {
    const type = nalType(nal);
    // AUDs are ours; in-band parameter sets before a keyframe are already written.
    if (type !== NAL.AUD && !(key && (type === NAL.SPS || type === NAL.PPS))) parts.push(START_CODE, nal);
  }
  return { au: Buffer.concat(parts), cts };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = (c & 0x80000000) !== 0 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32/MPEG-2 of PSI sections (13818-1 Annex A). */
export function crc32Mpeg2(b: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of b) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0;
  return crc >>> 0;
}

function writeTimestamp(b: Buffer, o: number, prefix: number, t: number): void {
  const v = t % PTS_WRAP;
  const hi = Math.floor(v / 2 ** 30) & 0x07;
  const lo = v % 2 ** 30;
  b[o] = (prefix << 4) | (hi << 1) | 1;
  b[o + 1] = (lo >> 22) & 0xff;
  b[o + 2] = ((lo >> 14) & 0xfe) | 1;
  b[o + 3] = (lo >> 7) & 0xff;
  b[o + 4] = ((lo << 1) & 0xfe) | 1;
}

function writePcr(b: Buffer, o: number, base: number): void {
  const v = base % PTS_WRAP;
  b[o] = Math.floor(v / 2 ** 25) & 0xff;
  b[o + 1] = Math.floor(v / 2 ** 17) & 0xff;
  b[o + 2] = Math.floor(v / 2 ** 9) & 0xff;
  b[o + 3] = Math.floor(v / 2) & 0xff;
  b[o + 4] = ((v % 2) << 7) | 0x7e;
  b[o + 5] = 0;
}

/**
 * Turns tags into TS packets. Continuity counters run across segments (one
 * muxer per stream). Output buffers are whole 188-byte packets.
 */
export class TsMuxer {
  readonly #cc = new Map<number, number>();

  constructor(private readonly tracks: { video: boolean; audio: boolean }) {
    if (!tracks.video && !tracks.audio) throw new ParseError('a transport stream needs a track');
  }

  /** PAT + PMT: the start of every segment. */
  tables(): Buffer {
    const pat = Buffer.alloc(12);
    pat[0] = 0x00; // table_id: program_association_section
    pat.writeUInt16BE(0xb000 | 13, 1); // section_syntax_indicator, section_length
    pat.writeUInt16BE(1, 3); // transport_stream_id
    pat[5] = 0xc1; // version 0, current_next
    pat[6] = 0;
    pat[7] = 0;
    pat.writeUInt16BE(1, 8); // program_number
    pat.writeUInt16BE(0xe000 | PID_PMT, 10);
    const streams: [number, number][] = [];
    if (this.tracks.video) streams.push([STREAM_TYPE_H264, PID_VIDEO]);
    if (this.tracks.audio) streams.push([STREAM_TYPE_AAC_ADTS, PID_AUDIO]);
    const pmt = Buffer.alloc(12 + 5 * streams.length);
    pmt[0] = 0x02; // table_id: TS_program_map_section
    pmt.writeUInt16BE(0xb000 | (pmt.length - 3 + 4), 1);
    pmt.writeUInt16BE(1, 3);
    pmt[5] = 0xc1;
    pmt[6] = 0;
    pmt[7] = 0;
    pmt.writeUInt16BE(0xe000 | this.#pcrPid, 8);
    pmt.writeUInt16BE(0xf000, 10); // program_info_length 0
    let o = 12;
    for (const [type, pid] of streams) {
      pmt[o] = type;
      pmt.writeUInt16BE(0xe000 | pid, o + 1);
      pmt.writeUInt16BE(0xf000, o + 3);
      o += 5;
    }
    return Buffer.concat([this.#section(0, pat), this.#section(PID_PMT, pmt)]);
  }

  /** One H.264 access unit (Annex-B) at `dtsMs` with composition offset `cts` ms. */
  video(au: Buffer, dtsMs: number, cts: number, key: boolean): Buffer {
    const dts = (dtsMs + TS_OFFSET_MS) * TICKS_PER_MS;
    const pts = dts + cts * TICKS_PER_MS;
    const withDts = cts !== 0;
    const h = Buffer.alloc(withDts ? 19 : 14);
    h.writeUInt32BE(0x000001e0, 0); // packet_start_code_prefix, stream_id: video stream 0
    h.writeUInt16BE(0, 4); // PES_packet_length 0: unbounded, allowed for video (2.4.3.7)
    h[6] = 0x80;
    h[7] = withDts ? 0xc0 : 0x80;
    h[8] = withDts ? 10 : 5;
    writeTimestamp(h, 9, withDts ? 3 : 2, pts);
    if (withDts) writeTimestamp(h, 14, 1, dts);
    return this.#packetize(PID_VIDEO, Buffer.concat([h, au]), this.#pcrPid === PID_VIDEO ? dts : undefined, key);
  }

  /** One AAC frame (ADTS header included) at `ptsMs`. */
  audio(adts: Buffer, ptsMs: number): Buffer {
    const pts = (ptsMs + TS_OFFSET_MS) * TICKS_PER_MS;
    const h = Buffer.alloc(14);
    h.writeUInt32BE(0x000001c0, 0); // stream_id: audio stream 0
    h.writeUInt16BE(8 + adts.length, 4);
    h[6] = 0x80;
    h[7] = 0x80;
    h[8] = 5;
    writeTimestamp(h, 9, 2, pts);
    return this.#packetize(PID_AUDIO, Buffer.concat([h, adts]), this.#pcrPid === PID_AUDIO ? pts : undefined, true);
  }

  get #pcrPid(): number {
    return this.tracks.video ? PID_VIDEO : PID_AUDIO;
  }

  #nextCc(pid: number): number {
    const c = ((this.#cc.get(pid) ?? 15) + 1) & 0x0f;
    this.#cc.set(pid, c);
    return c;
  }

  /** A PSI section in one packet: pointer_field, section, CRC, 0xFF fill. */
  #section(pid: number, section: Buffer): Buffer {
    const p = Buffer.alloc(TS_PACKET_SIZE, 0xff);
    p[0] = 0x47;
    p.writeUInt16BE(0x4000 | pid, 1); // payload_unit_start_indicator
    p[3] = 0x10 | this.#nextCc(pid);
    p[4] = 0; // pointer_field
    section.copy(p, 5);
    p.writeUInt32BE(crc32Mpeg2(section), 5 + section.length);
    return p;
  }

  /**
   * Splits a PES into packets (one buffer: they are written in place, no
   * allocation per packet); the first carries the PCR and
   * random_access_indicator when asked.
   */
  #packetize(pid: number, pes: Buffer, pcr: number | undefined, randomAccess: boolean): Buffer {
    const firstAf = pcr !== undefined ? 7 : randomAccess ? 1 : 0;
    const firstRoom = 184 - (firstAf > 0 ? 1 + firstAf : 0);
    const count = pes.length <= firstRoom ? 1 : 1 + Math.ceil((pes.length - firstRoom) / 184);
    const out = Buffer.allocUnsafe(count * TS_PACKET_SIZE);
    let off = 0;
    for (let i = 0, at = 0; i < count; i++, at += TS_PACKET_SIZE) {
      const first = i === 0;
      const withPcr = first && pcr !== undefined;
      const rai = first && randomAccess;
      // adaptation_field_length: flags byte (+ 6 PCR bytes) when needed.
      let afLen = first ? firstAf : 0;
      let hasAf = afLen > 0;
      const room = 184 - (hasAf ? 1 + afLen : 0);
      const remaining = pes.length - off;
      if (remaining < room) {
        // Stuffing in the adaptation field fills the last packet (2.4.3.5).
        afLen = 184 - remaining - 1;
        hasAf = true;
      }
      const payload = Math.min(remaining, 184 - (hasAf ? 1 + afLen : 0));
      out[at] = 0x47;
      out.writeUInt16BE((first ? 0x4000 : 0) | pid, at + 1);
      out[at + 3] = (hasAf ? 0x30 : 0x10) | this.#nextCc(pid);
      if (hasAf) {
        out[at + 4] = afLen;
        if (afLen > 0) {
          out[at + 5] = (rai ? 0x40 : 0) | (withPcr ? 0x10 : 0);
          const flagsEnd = at + 6;
          if (withPcr) writePcr(out, flagsEnd, pcr);
          out.fill(0xff, withPcr ? flagsEnd + 6 : flagsEnd, at + TS_PACKET_SIZE - payload);
        }
      }
      pes.copy(out, at + TS_PACKET_SIZE - payload, off, off + payload);
      off += payload;
    }
    return out;
  }
}
