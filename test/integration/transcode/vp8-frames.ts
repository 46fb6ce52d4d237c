/** VP8 frames for tests: ffmpeg encodes a test pattern, we read the IVF container. */
import { execFileSync } from 'node:child_process';
import { ivfFrames } from '../../helpers/containers.js';

/** `n` VP8 frames of a 320×240 test pattern at 25 fps, keyframe every `gop` frames. */
export function vp8Frames(n: number, gop = 50): { data: Buffer; key: boolean }[] {
  const ivf = execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=s=320x240:r=25`, '-frames:v', String(n),
    '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-g', String(gop), '-f', 'ivf', '-',
  ]);
  return ivfFrames(ivf).map((data) => ({ data, key: (data[0]! & 1) === 0 }));
}
