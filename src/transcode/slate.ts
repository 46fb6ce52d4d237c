/**
 * Generated media (SPEC §5 generateMediaForUa, the placeholder video): made
 * in-process once per process and option set, on a codec worker thread
 * (slate-engine.ts: libx264, libvpx), and reused by every call, so
 * generating media for a far end costs no encoder per call. Audio silence is
 * a constant per codec.
 */
import { codecPool, type CodecPool } from './codec-pool.js';

export interface SlateOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Frames in the loop (= the GOP). Default 2 s worth. */
  frames?: number;
  /** A still image (PNG, JPEG or BMP) to show instead of black, letterboxed. */
  imagePath?: string;
}

const cache = new Map<string, Promise<Buffer[]>>();

/** A worker's slate, made once per distinct request; a failure is not cached. */
function cached(pool: CodecPool, req: Parameters<CodecPool['make']>[0]): Promise<Buffer[]> {
  const key = JSON.stringify(req);
  let p = cache.get(key);
  if (p === undefined) {
    p = pool.make(req);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * The slate loop as an Annex B H.264 stream: one GOP (an IDR then P-frames
 * that repeat it), baseline profile (every far end decodes it), each frame
 * led by an AUD, SPS/PPS before the IDR. Default 320×240 at 10 fps, 2 s.
 */
export async function makeSlateH264(o: SlateOptions = {}, pool: CodecPool = codecPool()): Promise<Buffer> {
  const fps = o.fps ?? 10;
  const [annexB] = await cached(pool, {
    what: 'h264', width: o.width ?? 320, height: o.height ?? 240, fps, frames: o.frames ?? fps * 2,
    ...(o.imagePath === undefined ? {} : { imagePath: o.imagePath }),
  });
  if (annexB === undefined || annexB.length === 0) throw new Error('the H.264 encoder made no slate');
  return annexB;
}

/** A black VP8 loop (320×240, one keyframe then inter frames, 2 s at `fps`), one buffer per frame. */
export async function makeSlateVp8(fps = 10, pool: CodecPool = codecPool()): Promise<Buffer[]> {
  const frames = await cached(pool, { what: 'vp8', fps });
  if (frames.length === 0) throw new Error('the VP8 encoder made no frames');
  return frames;
}

/**
 * An Opus packet of 20 ms of silence (RFC 6716 §3.1 TOC 0xF8: CELT-only,
 * fullband, 20 ms, mono, one frame; the two bytes that follow decode to
 * silence). Far ends decode it as comfort silence.
 */
export const OPUS_SILENCE_20MS: Buffer = Buffer.from([0xf8, 0xff, 0xfe]);

/**
 * 20 ms of G.722 silence (160 bytes) as libavcodec's encoder makes it in its
 * steady state (its first bytes still carry the ADPCM predictor settling).
 */
export const G722_SILENCE_20MS: Buffer = Buffer.from(
  'dff6dff3f9f9f9ddfbdfefdff9f7ddfbdff3dff9f7dff7fbf9fbdff5f9fbfbf6fbdff6fbfbfbf6fbdff6dff6f9f6dff6f9dff9f9f8fbfbf8f8fbdff1f8fb'
  + 'dff2f8fbdff6f8dff4f6fbdff6f8fbfbfbfbdef1f8fbdff5f6fbf6dff4fbdcf6f6f6dff8dffbf6f6f4fbdcdffbfbf6f4f6dcdffbdcf4f4f6f8dff8dcfb'
  + 'faf5f4f8fbdcf8fadeeffbfbdff4fbdcf6fbfbdff1fbdcf6f8f8dff6f8fbf8f8fadef3fbf8',
  'hex',
);

/**
 * One 20 ms Speex wideband (16 kHz) frame of silence as libspeex encodes it
 * in its steady state: the RTP payload of RFC 5574.
 */
export const SPEEX_SILENCE_20MS: Buffer = Buffer.from(
  '369d1b9a20080168e8e8e8e8e8e8e88400b47474747474747442005a3a3a3a3a3a3a3a21002d1d1d1d1d1d1d1d1b3b60ababababab0ababababab0ababababab0ababababab7',
  'hex',
);
