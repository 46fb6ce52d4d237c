/**
 * Minimal libpcap file writer/reader for UDP datagrams over IPv4/Ethernet
 * (link type 1, DLT_EN10MB). Pure: bytes in, bytes out. SIPp's
 * `play_pcap_*` reads these and rewrites the destination to the peer's SDP
 * port, keeping each packet's relative capture time.
 */

/** One UDP datagram with its capture time in microseconds. */
export interface PcapUdpPacket {
  timeUs: number;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** IPv4 addresses as dotted quads; default 127.0.0.1. */
  srcIp?: string;
  dstIp?: string;
}

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const ETH = 14;
const IP4 = 20;
const UDP = 8;

function ipBytes(ip: string): number[] {
  const parts = ip.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`pcap: bad IPv4 address ${ip}`);
  }
  return parts;
}

/** RFC 791 §3.1 header checksum: one's complement of the one's complement sum. */
function ipv4Checksum(buf: Buffer, off: number): number {
  let sum = 0;
  for (let i = 0; i < IP4; i += 2) sum += buf.readUInt16BE(off + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Serializes packets into a pcap file (microsecond timestamps, snaplen 65535).
 * The UDP checksum is 0 ("not computed", allowed for IPv4 by RFC 768).
 */
export function writePcap(packets: readonly PcapUdpPacket[]): Buffer {
  let size = GLOBAL_HEADER;
  for (const p of packets) size += RECORD_HEADER + ETH + IP4 + UDP + p.payload.length;
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(0xa1b2c3d4, 0);
  buf.writeUInt16LE(2, 4);
  buf.writeUInt16LE(4, 6);
  buf.writeInt32LE(0, 8); // thiszone
  buf.writeUInt32LE(0, 12); // sigfigs
  buf.writeUInt32LE(65535, 16); // snaplen
  buf.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  let off = GLOBAL_HEADER;
  let ipId = 0;
  for (const p of packets) {
    const frameLen = ETH + IP4 + UDP + p.payload.length;
    const sec = Math.floor(p.timeUs / 1e6);
    buf.writeUInt32LE(sec, off);
    buf.writeUInt32LE(Math.round(p.timeUs - sec * 1e6), off + 4);
    buf.writeUInt32LE(frameLen, off + 8);
    buf.writeUInt32LE(frameLen, off + 12);
    off += RECORD_HEADER;
    // Ethernet: locally administered MACs, EtherType IPv4.
    Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]).copy(buf, off);
    buf.writeUInt16BE(0x0800, off + 12);
    off += ETH;
    const ip = off;
    buf[ip] = 0x45;
    buf[ip + 1] = 0;
    buf.writeUInt16BE(IP4 + UDP + p.payload.length, ip + 2);
    buf.writeUInt16BE(ipId++ & 0xffff, ip + 4);
    buf.writeUInt16BE(0x4000, ip + 6); // DF
    buf[ip + 8] = 64;
    buf[ip + 9] = 17;
    Buffer.from(ipBytes(p.srcIp ?? '127.0.0.1')).copy(buf, ip + 12);
    Buffer.from(ipBytes(p.dstIp ?? '127.0.0.1')).copy(buf, ip + 16);
    buf.writeUInt16BE(ipv4Checksum(buf, ip), ip + 10);
    off += IP4;
    buf.writeUInt16BE(p.srcPort, off);
    buf.writeUInt16BE(p.dstPort, off + 2);
    buf.writeUInt16BE(UDP + p.payload.length, off + 4);
    buf.writeUInt16BE(0, off + 6);
    off += UDP;
    buf.set(p.payload, off);
    off += p.payload.length;
  }
  return buf;
}

/** Reads back what {@link writePcap} writes (little-endian, Ethernet, IPv4, UDP only). */
export function readPcap(buf: Buffer): PcapUdpPacket[] {
  if (buf.length < GLOBAL_HEADER || buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('pcap: bad magic');
  if (buf.readUInt32LE(20) !== 1) throw new Error('pcap: link type is not Ethernet');
  const out: PcapUdpPacket[] = [];
  let off = GLOBAL_HEADER;
  while (off + RECORD_HEADER <= buf.length) {
    const timeUs = buf.readUInt32LE(off) * 1e6 + buf.readUInt32LE(off + 4);
    const incl = buf.readUInt32LE(off + 8);
    const frame = off + RECORD_HEADER;
    off = frame + incl;
    if (off > buf.length) throw new Error('pcap: truncated record');
    if (buf.readUInt16BE(frame + 12) !== 0x0800) continue;
    const ip = frame + ETH;
    const ihl = (buf[ip]! & 0x0f) * 4;
    if (buf[ip + 9] !== 17) continue;
    const udp = ip + ihl;
    const len = buf.readUInt16BE(udp + 4);
    out.push({
      timeUs,
      srcIp: Array.from(buf.subarray(ip + 12, ip + 16)).join('.'),
      dstIp: Array.from(buf.subarray(ip + 16, ip + 20)).join('.'),
      srcPort: buf.readUInt16BE(udp),
      dstPort: buf.readUInt16BE(udp + 2),
      payload: Uint8Array.prototype.slice.call(buf, udp + UDP, udp + len),
    });
  }
  return out;
}
