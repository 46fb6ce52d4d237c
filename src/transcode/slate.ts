/**
 * Pre-encoded slate video: a short H.264 loop (black, or a still image) made
 * once with ffmpeg and reused by every call, so generating video for a far
 * end (SPEC §5 generateMediaForUa) costs no encoder per call. One GOP: an IDR
 * then P-frames that repeat it, baseline profile (every far end decodes it),
 * with access unit delimiters so the Annex B stream splits into frames.
 */
import { spawn } from 'node:child_process';

export interface SlateOptions {
  ffmpegPath: string;
  width?: number;
  height?: number;
  fps?: number;
  /** Frames in the loop (= the GOP). Default 2 s worth. */
  frames?: number;
  /** A still image to show instead of black (any format ffmpeg reads). */
  imagePath?: string;
}

/** Runs `ffmpeg` to completion and returns its stdout. */
function runFfmpeg(ffmpegPath: string, args: readonly string[], timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      err = (err + s).slice(-1000);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`ffmpeg exited with ${code}: ${err.trim()}`));
    });
  });
}

/** The ffmpeg argv of a slate loop (no shell). */
export function slateArgs(o: SlateOptions): string[] {
  const w = o.width ?? 320;
  const h = o.height ?? 240;
  const fps = o.fps ?? 10;
  const frames = o.frames ?? fps * 2;
  const input = o.imagePath !== undefined
    ? ['-loop', '1', '-framerate', String(fps), '-i', o.imagePath]
    : ['-f', 'lavfi', '-i', `color=c=black:s=${w}x${h}:r=${fps}`];
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', ...input,
    '-frames:v', String(frames), '-vf', `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-level', '3.0', '-g', String(frames), '-bf', '0',
    '-x264-params', 'aud=1:repeat-headers=1:scenecut=0', '-f', 'h264', 'pipe:1',
  ];
}

const cache = new Map<string, Promise<Buffer>>();

/**
 * The slate loop as an Annex B H.264 stream (each frame begins with an AUD;
 * SPS/PPS precede the IDR). Made once per distinct option set and cached for
 * the life of the process; a failure is not cached.
 */
export function makeSlateH264(o: SlateOptions): Promise<Buffer> {
  const args = slateArgs(o);
  const key = `${o.ffmpegPath}\u0000${args.join('\u0000')}`;
  let p = cache.get(key);
  if (p === undefined) {
    p = runFfmpeg(o.ffmpegPath, args, 20_000);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * 20 ms of G.722 silence as the encoder makes it (160 bytes): made once per
 * process with ffmpeg, from the encoder's steady state (its first bytes
 * still carry the ADPCM predictor settling).
 */
export function makeG722Silence(ffmpegPath: string): Promise<Buffer> {
  const key = `${ffmpegPath}\u0000g722-silence`;
  let p = cache.get(key);
  if (p === undefined) {
    p = runFfmpeg(ffmpegPath, [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '0.2',
      '-c:a', 'g722', '-f', 'g722', 'pipe:1',
    ], 20_000).then((b) => {
      if (b.length < 320) throw new Error('ffmpeg made no G.722 silence');
      return Buffer.from(b.subarray(b.length - 160));
    });
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

/**
 * An Opus packet of 20 ms of silence (RFC 6716 §3.1 TOC 0xF8: CELT-only,
 * fullband, 20 ms, mono, one frame; the two bytes that follow decode to
 * silence). Far ends decode it as comfort silence.
 */
export const OPUS_SILENCE_20MS: Buffer = Buffer.from([0xf8, 0xff, 0xfe]);

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

/**
 * A black VP8 loop (320×240, one keyframe then inter frames, 2 s at `fps`)
 * for far ends that answered VP8: made once per process with libvpx.
 */
export function makeSlateVp8(ffmpegPath: string, fps = 10): Promise<Buffer[]> {
  const key = `${ffmpegPath}\u0000vp8-slate-${fps}`;
  let p = cache.get(key) as Promise<Buffer> | undefined;
  if (p === undefined) {
    p = runFfmpeg(ffmpegPath, [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', `color=c=black:s=320x240:r=${fps}`,
      '-frames:v', String(fps * 2), '-c:v', 'libvpx', '-g', String(fps * 2), '-b:v', '100k', '-deadline', 'realtime', '-f', 'ivf', 'pipe:1',
    ], 20_000);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p.then((ivf) => {
    const frames = ivfFrames(ivf);
    if (frames.length === 0) throw new Error('ffmpeg made no VP8 frames');
    return frames;
  });
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

/**
 * One 20 ms Speex wideband (16 kHz) frame of silence as libspeex encodes it,
 * taken from the encoder's steady state: the RTP payload of RFC 5574.
 */
export function makeSpeexSilence(ffmpegPath: string): Promise<Buffer> {
  const key = `${ffmpegPath}\u0000speex-silence`;
  let p = cache.get(key);
  if (p === undefined) {
    p = runFfmpeg(ffmpegPath, [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-t', '0.2',
      '-c:a', 'libspeex', '-frames_per_packet', '1', '-f', 'ogg', 'pipe:1',
    ], 20_000).then((ogg) => {
      // Packet 0 is the Speex header, 1 the comments; the rest are 20 ms frames.
      const audio = oggPackets(ogg).slice(2);
      const last = audio.at(-1);
      if (last === undefined || last.length === 0) throw new Error('ffmpeg made no Speex silence');
      return last;
    });
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}
