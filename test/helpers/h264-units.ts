/** Builders of H.264 RTP payloads (RFC 6184) for tests. */

/** A NAL unit of `type` with NRI 3 and `size` bytes of a recognizable body. */
export function nal(type: number, size: number, fill = type): Buffer {
  const b = Buffer.alloc(size, fill);
  b[0] = 0x60 | type;
  return b;
}

export function stapA(...nalus: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x78])]; // F=0 NRI=3 type=24
  for (const n of nalus) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(n.length);
    parts.push(len, n);
  }
  return Buffer.concat(parts);
}

/** Splits a NAL unit into FU-A payloads of at most `chunk` body bytes (§5.8). */
export function fuA(n: Buffer, chunk: number): Buffer[] {
  const indicator = (n[0]! & 0xe0) | 28;
  const type = n[0]! & 0x1f;
  const body = n.subarray(1);
  const out: Buffer[] = [];
  for (let o = 0; o < body.length; o += chunk) {
    const start = o === 0;
    const end = o + chunk >= body.length;
    out.push(Buffer.concat([Buffer.from([indicator, (start ? 0x80 : 0) | (end ? 0x40 : 0) | type]), body.subarray(o, o + chunk)]));
  }
  return out;
}
