import { ParseError } from '../shared/index.js';

/** One received RTP packet (RFC 3550 §5.1). `payload` is a view into the datagram. */
export interface RtpPacketView {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly seq: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly payload: Buffer;
}

/** Fixed RTP header length, without CSRCs or extension (RFC 3550 §5.1). */
export const RTP_HEADER_SIZE = 12;

/**
 * True when the second byte marks an RTCP packet type 192..223 multiplexed on
 * the RTP port (RFC 5761 §4): those values collide with no dynamic RTP
 * payload type once the marker bit is folded in.
 */
export function looksLikeRtcp(buf: Buffer): boolean {
  if (buf.length < 2) return false;
  const pt = buf[1]!;
  return pt >= 192 && pt <= 223;
}

/**
 * Parses an RTP packet: skips CSRCs and the header extension, strips padding.
 * @throws ParseError when the datagram is not a valid RTP version 2 packet.
 */
export function parseRtpPacket(buf: Buffer): RtpPacketView {
  if (buf.length < RTP_HEADER_SIZE) throw new ParseError(`RTP packet too short (${buf.length} bytes)`);
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) throw new ParseError(`RTP version ${b0 >> 6} is not 2`);
  const b1 = buf[1]!;
  let offset = RTP_HEADER_SIZE + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    // Header extension: 16-bit profile, 16-bit length in 32-bit words (§5.3.1).
    if (buf.length < offset + 4) throw new ParseError('RTP header extension truncated');
    offset += 4 + buf.readUInt16BE(offset + 2) * 4;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    // Padding: the last octet counts the padding octets, itself included (§5.1).
    const pad = buf[end - 1]!;
    if (pad === 0) throw new ParseError('RTP padding count is zero');
    end -= pad;
  }
  if (end < offset) throw new ParseError('RTP header longer than the packet');
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(offset, end),
  };
}

/** Fields of an outgoing RTP packet; no CSRCs, no extension, no padding. */
export interface RtpHeaderFields {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
}

/** Serializes a plain RTP packet (RFC 3550 §5.1) into a new buffer. */
export function serializeRtpPacket(h: RtpHeaderFields, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RTP_HEADER_SIZE + payload.length);
  out[0] = 0x80;
  out[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out.writeUInt16BE(h.seq & 0xffff, 2);
  out.writeUInt32BE(h.timestamp >>> 0, 4);
  out.writeUInt32BE(h.ssrc >>> 0, 8);
  payload.copy(out, RTP_HEADER_SIZE);
  return out;
}
