/**
 * RTCP codecs: the packets a receiver sends (RR, SDES, PLI, FIR) and the
 * parts of received compound packets it needs (SR for LSR and lip sync, BYE).
 * Pure: bytes in, values out.
 */
import { ParseError } from '../shared/index.js';

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
/** Payload-specific feedback (RFC 4585 §6.1). */
export const RTCP_PSFB = 206;
const PSFB_FMT_PLI = 1; // RFC 4585 §6.3.1
const PSFB_FMT_FIR = 4; // RFC 5104 §4.3.1

/** One report block of an SR/RR (RFC 3550 §6.4.1). */
export interface ReportBlock {
  /** SSRC of the source this block reports on. */
  ssrc: number;
  /** Fraction lost since the previous report, fixed point /256. */
  fractionLost: number;
  /** Cumulative packets lost (signed 24-bit; clamped). */
  cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | max seq). */
  extHighestSeq: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR, 0 if none. */
  lsr: number;
  /** Delay since that SR in units of 1/65536 s, 0 if none. */
  dlsr: number;
}

function header(buf: Buffer, offset: number, count: number, pt: number, lengthBytes: number): void {
  buf[offset] = 0x80 | (count & 0x1f);
  buf[offset + 1] = pt;
  // Length in 32-bit words minus one, header included (RFC 3550 §6.4.1).
  buf.writeUInt16BE(lengthBytes / 4 - 1, offset + 2);
}

/** Receiver report (RFC 3550 §6.4.2) with up to 31 report blocks. */
export function buildReceiverReport(senderSsrc: number, blocks: readonly ReportBlock[]): Buffer {
  if (blocks.length > 31) throw new RangeError('at most 31 report blocks');
  const len = 8 + 24 * blocks.length;
  const buf = Buffer.alloc(len);
  header(buf, 0, blocks.length, RTCP_RR, len);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  let o = 8;
  for (const b of blocks) {
    buf.writeUInt32BE(b.ssrc >>> 0, o);
    buf[o + 4] = Math.max(0, Math.min(255, b.fractionLost | 0));
    // Signed 24-bit two's complement, clamped to its range (§6.4.1).
    const lost = Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(b.cumulativeLost)));
    buf.writeUIntBE(lost & 0xffffff, o + 5, 3);
    buf.writeUInt32BE(b.extHighestSeq >>> 0, o + 8);
    buf.writeUInt32BE(Math.max(0, Math.floor(b.jitter)) >>> 0, o + 12);
    buf.writeUInt32BE(b.lsr >>> 0, o + 16);
    buf.writeUInt32BE(b.dlsr >>> 0, o + 20);
    o += 24;
  }
  return buf;
}

/** What a sender report says about our own outgoing stream (RFC 3550 §6.4.1). */
export interface SenderInfo {
  /** Wall clock as NTP seconds since 1900 and 2^-32 fractions. */
  ntpSec: number;
  ntpFrac: number;
  /** The same instant on the stream's RTP clock. */
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** A Unix time in ms as an NTP timestamp (RFC 3550 §4). */
export function ntpFromUnixMs(ms: number): { ntpSec: number; ntpFrac: number } {
  const sec = Math.floor(ms / 1000);
  return { ntpSec: (sec + NTP_UNIX_OFFSET_S) >>> 0, ntpFrac: Math.floor(((ms - sec * 1000) / 1000) * 0x1_0000_0000) >>> 0 };
}

/** Sender report (RFC 3550 §6.4.1) with up to 31 report blocks: sent instead of an RR while we send media. */
export function buildSenderReport(senderSsrc: number, info: SenderInfo, blocks: readonly ReportBlock[]): Buffer {
  const rr = buildReceiverReport(senderSsrc, blocks);
  const buf = Buffer.alloc(rr.length + 20);
  header(buf, 0, blocks.length, RTCP_SR, buf.length);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(info.ntpSec >>> 0, 8);
  buf.writeUInt32BE(info.ntpFrac >>> 0, 12);
  buf.writeUInt32BE(info.rtpTimestamp >>> 0, 16);
  buf.writeUInt32BE(info.packetCount >>> 0, 20);
  buf.writeUInt32BE(info.octetCount >>> 0, 24);
  rr.copy(buf, 28, 8);
  return buf;
}

/** SDES with one chunk holding a CNAME item (RFC 3550 §6.5, §6.5.1). */
export function buildSdesCname(ssrc: number, cname: string): Buffer {
  const text = Buffer.from(cname, 'utf8');
  if (text.length > 255) throw new RangeError('CNAME longer than 255 octets');
  // Chunk: SSRC, CNAME item (type 1, length, text), then at least one null
  // octet ending the item list, padded to a 32-bit boundary.
  const chunk = 4 + 2 + text.length;
  const padded = (chunk + 4) & ~3;
  const len = 4 + padded;
  const buf = Buffer.alloc(len);
  header(buf, 0, 1, RTCP_SDES, len);
  buf.writeUInt32BE(ssrc >>> 0, 4);
  buf[8] = 1;
  buf[9] = text.length;
  text.copy(buf, 10);
  return buf;
}

/** Transport-layer feedback (RFC 4585 §6.1). */
export const RTCP_RTPFB = 205;
const RTPFB_FMT_NACK = 1; // RFC 4585 §6.2.1

/**
 * Generic NACK (RFC 4585 §6.2.1): one FCI per run of up to 17 lost packets
 * (PID = the first, BLP bit i = PID + i + 1 also lost). `seqs` need not be
 * sorted; at most `maxFci` FCIs are written (the oldest losses first).
 */
export function buildNack(senderSsrc: number, mediaSsrc: number, seqs: readonly number[], maxFci = 16): Buffer {
  const sorted = [...new Set(seqs.map((s) => s & 0xffff))];
  // Sort in wrap-aware order relative to the first one.
  const base = sorted[0] ?? 0;
  sorted.sort((a, b) => ((a - base) & 0xffff) - ((b - base) & 0xffff));
  const fci: number[] = [];
  for (let i = 0; i < sorted.length && fci.length / 2 < maxFci;) {
    const pid = sorted[i]!;
    let blp = 0;
    i++;
    while (i < sorted.length) {
      const d = (sorted[i]! - pid) & 0xffff;
      if (d < 1 || d > 16) break;
      blp |= 1 << (d - 1);
      i++;
    }
    fci.push(pid, blp);
  }
  const len = 12 + fci.length * 2;
  const buf = Buffer.alloc(len);
  header(buf, 0, RTPFB_FMT_NACK, RTCP_RTPFB, len);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(mediaSsrc >>> 0, 8);
  for (let k = 0; k < fci.length; k++) buf.writeUInt16BE(fci[k]!, 12 + k * 2);
  return buf;
}

/** Picture Loss Indication (RFC 4585 §6.3.1): FMT 1, no FCI. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const buf = Buffer.alloc(12);
  header(buf, 0, PSFB_FMT_PLI, RTCP_PSFB, 12);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(mediaSsrc >>> 0, 8);
  return buf;
}

/**
 * Full Intra Request (RFC 5104 §4.3.1): FMT 4; the common "SSRC of media
 * source" is unused and SHALL be 0 (§4.3.1.2); the FCI names the target SSRC
 * and a command sequence number that increases by one per new request.
 */
export function buildFir(senderSsrc: number, mediaSsrc: number, seqNr: number): Buffer {
  const buf = Buffer.alloc(20);
  header(buf, 0, PSFB_FMT_FIR, RTCP_PSFB, 20);
  buf.writeUInt32BE(senderSsrc >>> 0, 4);
  buf.writeUInt32BE(0, 8);
  buf.writeUInt32BE(mediaSsrc >>> 0, 12);
  buf[16] = seqNr & 0xff;
  return buf;
}

/** What a receiver needs from a received RTCP packet. */
export type RtcpInfo =
  | {
      readonly type: 'sr';
      readonly ssrc: number;
      readonly ntpSec: number;
      readonly ntpFrac: number;
      readonly rtpTimestamp: number;
      readonly packetCount: number;
      readonly octetCount: number;
    }
  | { readonly type: 'bye'; readonly ssrcs: readonly number[] }
  | { readonly type: 'other'; readonly packetType: number };

/**
 * Splits a compound RTCP packet (RFC 3550 §6.1) and decodes SR and BYE.
 * @throws ParseError on a bad version or a length running past the datagram.
 */
export function parseRtcpCompound(buf: Buffer): RtcpInfo[] {
  const out: RtcpInfo[] = [];
  let o = 0;
  if (buf.length < 4) throw new ParseError('RTCP packet too short');
  while (o + 4 <= buf.length) {
    const b0 = buf[o]!;
    if (b0 >> 6 !== 2) throw new ParseError(`RTCP version ${b0 >> 6} is not 2`);
    const count = b0 & 0x1f;
    const pt = buf[o + 1]!;
    const len = (buf.readUInt16BE(o + 2) + 1) * 4;
    if (o + len > buf.length) throw new ParseError('RTCP length runs past the datagram');
    if (pt === RTCP_SR) {
      if (len < 28) throw new ParseError('RTCP SR too short');
      out.push({
        type: 'sr',
        ssrc: buf.readUInt32BE(o + 4),
        ntpSec: buf.readUInt32BE(o + 8),
        ntpFrac: buf.readUInt32BE(o + 12),
        rtpTimestamp: buf.readUInt32BE(o + 16),
        packetCount: buf.readUInt32BE(o + 20),
        octetCount: buf.readUInt32BE(o + 24),
      });
    } else if (pt === RTCP_BYE) {
      if (len < 4 + count * 4) throw new ParseError('RTCP BYE too short');
      const ssrcs: number[] = [];
      for (let i = 0; i < count; i++) ssrcs.push(buf.readUInt32BE(o + 4 + i * 4));
      out.push({ type: 'bye', ssrcs });
    } else {
      out.push({ type: 'other', packetType: pt });
    }
    o += len;
  }
  return out;
}

/** Middle 32 bits of a 64-bit NTP timestamp, the LSR field (RFC 3550 §6.4.1). */
export function ntpMiddle32(ntpSec: number, ntpFrac: number): number {
  return (((ntpSec & 0xffff) << 16) | (ntpFrac >>> 16)) >>> 0;
}
