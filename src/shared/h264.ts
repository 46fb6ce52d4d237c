/**
 * H.264 NAL unit types (ITU-T H.264 Table 7-1, RFC 6184 §5.2 for the RTP
 * aggregation and fragmentation types): the one place every module reads them.
 */
export const NAL = {
  SLICE: 1,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
  STAP_A: 24,
  FU_A: 28,
} as const;

/** The type of a NAL unit from its first byte (`nal_unit_type`, the low five bits). */
export function nalType(nalu: Uint8Array): number {
  return (nalu[0] ?? 0) & 0x1f;
}

/** Splits an Annex B byte stream into NAL units (start codes 00 00 01 / 00 00 00 01 removed). */
export function splitAnnexB(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < data.length) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) {
        let end = i;
        while (end > start && data[end - 1] === 0) end--; // trailing zero of a 4-byte start code
        if (end > start) out.push(data.subarray(start, end));
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0 && start < data.length) out.push(data.subarray(start));
  return out;
}

const START_CODE = Buffer.from([0, 0, 0, 1]);

/** One access unit in Annex B (4-byte start codes) from its NAL units: the inverse of {@link splitAnnexB}. */
export function joinAnnexB(nalus: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of nalus) parts.push(START_CODE, n);
  return Buffer.concat(parts);
}

/** Groups NAL units into access units at access unit delimiters (type 9), which are dropped. */
export function accessUnitsFromAud(nalus: readonly Buffer[]): Buffer[][] {
  const aus: Buffer[][] = [];
  let cur: Buffer[] = [];
  for (const n of nalus) {
    if (nalType(n) === NAL.AUD) {
      if (cur.length > 0) aus.push(cur);
      cur = [];
    } else {
      cur.push(n);
    }
  }
  if (cur.length > 0) aus.push(cur);
  return aus;
}
