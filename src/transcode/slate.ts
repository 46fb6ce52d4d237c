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
