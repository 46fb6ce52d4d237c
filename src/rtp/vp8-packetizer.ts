import type { GeneratedUnit } from './media-generator.js';

/**
 * One VP8 frame as RTP payloads (RFC 7741 §4.2): a one-byte payload
 * descriptor (S=1 on the first packet of the frame, partition 0, no
 * extensions), the frame split at `maxPayload`; the marker bit on the
 * frame's last packet.
 */
export function packetizeVp8(frame: Buffer, maxPayload = 1200): GeneratedUnit {
  const chunk = maxPayload - 1;
  const out: { payload: Buffer; marker: boolean }[] = [];
  for (let off = 0; off < frame.length; off += chunk) {
    const part = frame.subarray(off, Math.min(frame.length, off + chunk));
    out.push({ payload: Buffer.concat([Buffer.from([off === 0 ? 0x10 : 0x00]), part]), marker: off + chunk >= frame.length });
  }
  return out;
}
