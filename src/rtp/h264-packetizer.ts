/**
 * H.264 RTP packetizer (RFC 6184, packetization mode 1): a NAL unit that fits
 * goes alone (single NAL unit packet, §5.6), a bigger one is split into FU-A
 * fragments (§5.8). The marker bit is set on the last packet of the access
 * unit (§5.1). Pure: NAL units in, payloads out.
 */
import { NAL, ParseError } from '../shared/index.js';

/** Payload bytes per packet: fits a 1500-byte MTU with IP/UDP/RTP headers and room for tunnels. */
export const DEFAULT_MAX_PAYLOAD = 1200;

/** One RTP payload of an access unit. */
export interface H264Payload {
  payload: Buffer;
  marker: boolean;
}

/**
 * Splits an access unit (NAL units without start codes) into RTP payloads.
 * @throws ParseError for an empty NAL unit.
 */
export function packetizeH264(nalus: readonly Buffer[], maxPayload = DEFAULT_MAX_PAYLOAD): H264Payload[] {
  const out: H264Payload[] = [];
  for (const nal of nalus) {
    if (nal.length === 0) throw new ParseError('empty NAL unit');
    if (nal.length <= maxPayload) {
      out.push({ payload: nal, marker: false });
      continue;
    }
    const hdr = nal[0]!;
    // FU indicator: F and NRI of the NAL, type 28; FU header: S/E bits and the NAL type (§5.8).
    const indicator = (hdr & 0xe0) | NAL.FU_A;
    const type = hdr & 0x1f;
    const chunk = maxPayload - 2;
    for (let o = 1; o < nal.length; o += chunk) {
      const end = Math.min(nal.length, o + chunk);
      const fu = Buffer.allocUnsafe(2 + end - o);
      fu[0] = indicator;
      fu[1] = (o === 1 ? 0x80 : 0) | (end === nal.length ? 0x40 : 0) | type;
      nal.copy(fu, 2, o, end);
      out.push({ payload: fu, marker: false });
    }
  }
  const last = out.at(-1);
  if (last) last.marker = true;
  return out;
}
