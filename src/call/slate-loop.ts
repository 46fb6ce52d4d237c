/**
 * Generated video played into a call's output as if a far end sent it: the
 * placeholder track of a call without video (SPEC §5, §9.5) and the video of a
 * call on hold. The loop (made once per process on a codec worker, see
 * transcode/slate.ts) is stamped on the media clock at its frame rate, like
 * real frames; a stalled event loop skips frames, it never bursts them.
 */
import { NAL, accessUnitsFromAud, nalType, splitAnnexB, type VideoFrame } from '../shared/index.js';
import { mediaClockNow } from '../rtp/index.js';
import { makeSlateH264, makeSlateVp8, type SlateOptions } from '../transcode/index.js';

/** One frame of a loop: its NAL units (H.264) or the frame (VP8), and whether it is a keyframe. */
export interface SlateFrame {
  nalus: Buffer[];
  key: boolean;
}

/** The loop's frames in `codec`: H.264 access units without the encoder's SEI (its version string, ~600 bytes a loop), or VP8 frames. */
export async function slateFrames(codec: 'H264' | 'VP8', slate: SlateOptions): Promise<SlateFrame[]> {
  // VP8: a keyframe has bit 0 of its first byte clear (RFC 6386 §9.1).
  if (codec === 'VP8') return (await makeSlateVp8(slate.fps ?? 10)).map((f) => ({ nalus: [f], key: ((f[0] ?? 1) & 1) === 0 }));
  const aus = accessUnitsFromAud(splitAnnexB(await makeSlateH264(slate)));
  return aus.map((au) => ({ nalus: au.filter((n) => nalType(n) !== NAL.SEI), key: au.some((n) => nalType(n) === NAL.IDR) }));
}

export class SlateLoop {
  readonly #timer: NodeJS.Timeout;

  constructor(frames: readonly SlateFrame[], codec: 'H264' | 'VP8', fps: number, onFrame: (f: VideoFrame) => void) {
    const t0 = mediaClockNow();
    let n = 0;
    const tick = (): void => {
      const due = Math.floor((mediaClockNow() - t0) * fps / 1000);
      if (due - n > 5) n = due - 5;
      for (; n <= due; n++) {
        const f = frames[n % frames.length] as SlateFrame;
        onFrame({ kind: 'video', codec, ptsMs: t0 + (n * 1000) / fps, key: f.key, nalus: f.nalus });
      }
    };
    tick();
    this.#timer = setInterval(tick, 1000 / fps);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
