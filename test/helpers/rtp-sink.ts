/**
 * A UDP sink for RTP on 127.0.0.1 that counts what arrives per payload
 * type: lets a test stand where a media peer would and check the stream.
 */
import dgram from 'node:dgram';

/** Fixed RTP header fields (RFC 3550 §5.1). */
export interface RtpHeaderInfo {
  version: number;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Offset of the payload (after CSRCs and a header extension). */
  payloadOffset: number;
}

/** Parses an RTP header; null when `buf` is not RTP version 2 (or is RTCP, PT 200-204 per RFC 5761 §4). */
export function parseRtpHeader(buf: Uint8Array): RtpHeaderInfo | null {
  if (buf.length < 12) return null;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if (b0 >> 6 !== 2) return null;
  if (b1 >= 200 && b1 <= 204) return null;
  const cc = b0 & 0x0f;
  let off = 12 + cc * 4;
  if (b0 & 0x10) {
    if (buf.length < off + 4) return null;
    off += 4 + ((buf[off + 2]! << 8) | buf[off + 3]!) * 4;
  }
  if (off > buf.length) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    version: 2,
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadOffset: off,
  };
}

/** Per payload type counters. */
export interface PtStats {
  packets: number;
  payloadBytes: number;
  markers: number;
  ssrcs: Set<number>;
  firstSeq: number;
  lastSeq: number;
  firstTs: number;
  lastTs: number;
  /** Source address:port of the last packet. */
  from: string;
}

/** Binds UDP on 127.0.0.1 and counts RTP (and RTCP) packets. */
export class RtpCollector {
  readonly stats = new Map<number, PtStats>();
  rtcpPackets = 0;
  otherPackets = 0;
  /** The first `keep` packets, raw, for closer checks. */
  readonly kept: Buffer[] = [];
  private readonly sock = dgram.createSocket('udp4');
  private closed = false;

  private constructor(private readonly keep: number) {
    this.sock.on('message', (msg, rinfo) => this.onPacket(msg, `${rinfo.address}:${rinfo.port}`));
  }

  /** Binds `port` (0: any free one) on 127.0.0.1. */
  static async bind(port = 0, keep = 0): Promise<RtpCollector> {
    const c = new RtpCollector(keep);
    await new Promise<void>((resolve, reject) => {
      c.sock.once('error', reject);
      c.sock.bind(port, '127.0.0.1', () => resolve());
    });
    return c;
  }

  get port(): number {
    return this.sock.address().port;
  }

  /** Packets of one payload type so far (0 when none). */
  packets(pt: number): number {
    return this.stats.get(pt)?.packets ?? 0;
  }

  private onPacket(msg: Buffer, from: string): void {
    if (this.kept.length < this.keep) this.kept.push(msg);
    const h = parseRtpHeader(msg);
    if (!h) {
      if (msg.length >= 8 && msg[0]! >> 6 === 2 && msg[1]! >= 200 && msg[1]! <= 204) this.rtcpPackets++;
      else this.otherPackets++;
      return;
    }
    let s = this.stats.get(h.payloadType);
    if (!s) {
      s = {
        packets: 0, payloadBytes: 0, markers: 0, ssrcs: new Set(),
        firstSeq: h.sequence, lastSeq: h.sequence, firstTs: h.timestamp, lastTs: h.timestamp, from,
      };
      this.stats.set(h.payloadType, s);
    }
    s.packets++;
    s.payloadBytes += msg.length - h.payloadOffset;
    if (h.marker) s.markers++;
    s.ssrcs.add(h.ssrc);
    s.lastSeq = h.sequence;
    s.lastTs = h.timestamp;
    s.from = from;
  }

  /** Closes the socket. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}
