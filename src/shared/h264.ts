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
