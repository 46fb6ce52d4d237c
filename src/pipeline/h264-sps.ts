import { ParseError } from '../shared/index.js';

/** Reads Exp-Golomb codes from an RBSP (emulation prevention bytes removed). */
class BitReader {
  #pos = 0;
  constructor(private readonly buf: Buffer) {}
  bit(): number {
    const byte = this.buf[this.#pos >> 3];
    if (byte === undefined) throw new ParseError('SPS truncated');
    const b = (byte >> (7 - (this.#pos & 7))) & 1;
    this.#pos++;
    return b;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros > 31) throw new ParseError('SPS bad Exp-Golomb code');
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

function unescapeRbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0;
  for (let i = 0; i < nal.length; i++) {
    if (i >= 2 && nal[i] === 3 && nal[i - 1] === 0 && nal[i - 2] === 0) continue;
    out[n++] = nal[i] as number;
  }
  return out.subarray(0, n);
}

export interface SpsInfo { profileIdc: number; levelIdc: number; width: number; height: number }

/** Picture size from an H.264 SPS NAL unit (ITU-T H.264 §7.3.2.1.1), for onMetaData. */
export function parseSps(nal: Buffer): SpsInfo {
  const r = new BitReader(unescapeRbsp(nal.subarray(1)));
  const profileIdc = r.bits(8);
  r.bits(8);
  const levelIdc = r.bits(8);
  r.ue();
  let chromaFormatIdc = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc === 3) r.bit();
    r.ue();
    r.ue();
    r.bit();
    if (r.bit()) {
      for (let i = 0; i < (chromaFormatIdc !== 3 ? 8 : 12); i++) {
        if (r.bit()) {
          let last = 8;
          let next = 8;
          for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
            if (next !== 0) next = (last + r.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
  }
  r.ue();
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue();
  r.bit();
  const wMbs = r.ue() + 1;
  const hMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit();
  r.bit();
  let [cl, cr, ct, cb] = [0, 0, 0, 0];
  if (r.bit()) {
    cl = r.ue();
    cr = r.ue();
    ct = r.ue();
    cb = r.ue();
  }
  const subW = chromaFormatIdc === 1 || chromaFormatIdc === 2 ? 2 : 1;
  const subH = (chromaFormatIdc === 1 ? 2 : 1) * (2 - frameMbsOnly);
  const width = wMbs * 16 - subW * (cl + cr);
  const height = (2 - frameMbsOnly) * hMapUnits * 16 - subH * (ct + cb);
  return { profileIdc, levelIdc, width, height };
}
