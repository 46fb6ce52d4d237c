/**
 * G.711 A-law and µ-law (ITU-T G.711 §2-3) sample codecs: silence for gap
 * filling, generated tones for tests, and any place that needs G.711 without
 * a child process.
 */

/** The A-law code of a zero sample (G.711 Table 1a: 0x55 after even-bit inversion). */
export const ALAW_SILENCE = 0xd5;
/** The µ-law code of a zero sample. */
export const ULAW_SILENCE = 0xff;

const ULAW_BIAS = 0x84;

/** A-law code → 16-bit linear sample. */
export function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

/** µ-law code → 16-bit linear sample. */
export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + ULAW_BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/**
 * Encoding tables indexed by (sample + 32768) >> 2: each linear value maps to
 * the code whose decoded value is nearest (the decision levels sit halfway
 * between reconstruction levels, G.711 Tables 1-2), built from the decoders
 * as FFmpeg's pcm tables are, so our bytes equal ffmpeg's.
 */
function buildTable(decode: (code: number) => number, mask: number): Uint8Array {
  const t = new Uint8Array(16384);
  let j = 1;
  t[8192] = mask;
  for (let i = 0; i < 127; i++) {
    const v1 = decode(i ^ mask);
    const v2 = decode((i + 1) ^ mask);
    const v = (v1 + v2 + 4) >> 3;
    for (; j < v; j++) {
      t[8192 - j] = i ^ (mask ^ 0x80);
      t[8192 + j] = i ^ mask;
    }
  }
  for (; j < 8192; j++) {
    t[8192 - j] = 127 ^ (mask ^ 0x80);
    t[8192 + j] = 127 ^ mask;
  }
  t[0] = t[1] as number;
  return t;
}

const ALAW_TABLE = buildTable(alawToLinear, 0xd5);
const ULAW_TABLE = buildTable(ulawToLinear, 0xff);

/** One 16-bit linear sample → A-law code (nearest level). */
export function linearToAlaw(sample: number): number {
  return ALAW_TABLE[(sample + 32768) >> 2] as number;
}

/** One 16-bit linear sample → µ-law code (nearest level). */
export function linearToUlaw(sample: number): number {
  return ULAW_TABLE[(sample + 32768) >> 2] as number;
}

/** Encodes 16-bit linear samples to G.711 (one byte per sample). */
export function encodeG711(pcm: Int16Array, law: 'PCMA' | 'PCMU'): Buffer {
  const out = Buffer.allocUnsafe(pcm.length);
  const table = law === 'PCMA' ? ALAW_TABLE : ULAW_TABLE;
  for (let i = 0; i < pcm.length; i++) out[i] = table[((pcm[i] as number) + 32768) >> 2] as number;
  return out;
}

/** Decodes G.711 bytes to 16-bit linear samples. */
export function decodeG711(data: Buffer, law: 'PCMA' | 'PCMU'): Int16Array {
  const out = new Int16Array(data.length);
  const f = law === 'PCMA' ? alawToLinear : ulawToLinear;
  for (let i = 0; i < data.length; i++) out[i] = f(data[i] as number);
  return out;
}
