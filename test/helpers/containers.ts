/**
 * Readers of the containers ffmpeg writes for tests: IVF (VP8 frames) and Ogg
 * (Opus and Speex packets), so a test can send what a far end would.
 */
/** Frames of an IVF file (32-byte file header, then 12-byte frame headers). */
export function ivfFrames(ivf: Buffer): Buffer[] {
  if (ivf.length < 32 || ivf.toString('latin1', 0, 4) !== 'DKIF') throw new Error('not an IVF stream');
  const frames: Buffer[] = [];
  let off = ivf.readUInt16LE(6);
  while (off + 12 <= ivf.length) {
    const size = ivf.readUInt32LE(off);
    if (off + 12 + size > ivf.length) break;
    frames.push(Buffer.from(ivf.subarray(off + 12, off + 12 + size)));
    off += 12 + size;
  }
  return frames;
}

/** Packets of an Ogg stream (RFC 3533: pages, lacing values of 255 continue a packet). */
export function oggPackets(ogg: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let off = 0;
  while (off + 27 <= ogg.length && ogg.toString('latin1', off, off + 4) === 'OggS') {
    const nsegs = ogg[off + 26] as number;
    let data = off + 27 + nsegs;
    for (let i = 0; i < nsegs; i++) {
      const lace = ogg[off + 27 + i] as number;
      partial.push(ogg.subarray(data, data + lace));
      data += lace;
      if (lace < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    off = data;
  }
  return packets;
}
