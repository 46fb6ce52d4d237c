/**
 * Video frames for tests, as a far end would send them: ffmpeg encodes a test
 * pattern at 25 fps; VP8 comes out of an IVF container, H.264 as Annex B cut
 * into access units at the AUDs x264 writes.
 */
import { execFileSync } from 'node:child_process';
import { NAL, accessUnitsFromAud, joinAnnexB, nalType, splitAnnexB } from '../../../src/shared/index.js';
import { ivfFrames } from '../../helpers/containers.js';

export interface TestFrame {
  data: Buffer;
  key: boolean;
}

/** `n` frames of a `size` (e.g. `320x240`) test pattern through the encoder `args` ask for, to stdout. */
function encode(n: number, size: string, args: string[]): Buffer {
  return execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=s=${size}:r=25`, '-frames:v', String(n), ...args, '-',
  ], { maxBuffer: 64 * 1024 * 1024 });
}

/** `n` VP8 frames of a 320×240 test pattern, keyframe every `gop` frames. */
export function vp8Frames(n: number, gop = 50): TestFrame[] {
  const ivf = encode(n, '320x240', ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-g', String(gop), '-f', 'ivf']);
  return ivfFrames(ivf).map((data) => ({ data, key: (data[0]! & 1) === 0 }));
}

/**
 * `n` H.264 access units (Annex B, SPS and PPS in front of each IDR), no
 * B-frames, an IDR every `gop` frames and nowhere else (no scene cuts).
 * `pixFmt` e.g. `yuvj420p` (full range, as some cameras send).
 */
export function h264Frames(n: number, gop: number, size = '1280x720', pixFmt = 'yuv420p'): TestFrame[] {
  const annexB = encode(n, size, [
    '-pix_fmt', pixFmt, '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', String(gop), '-x264-params', 'aud=1:scenecut=0', '-f', 'h264',
  ]);
  return accessUnitsFromAud(splitAnnexB(annexB)).map((au) => ({
    data: joinAnnexB(au),
    key: au.some((nalu) => nalType(nalu) === NAL.IDR),
  }));
}
