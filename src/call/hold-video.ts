/**
 * A call on hold (ours by `/call/hold`, or the far end's `sendonly` /
 * `inactive`) gets no video from the far end, but its output keeps running:
 * generated video (the placeholder image when one is configured, else black)
 * goes in its place, in the codec the output is fed, so viewers and platforms
 * see a live stream rather than a frozen one. Back off hold, the far end's
 * video waits for its next keyframe (it is asked for one) — frames before it
 * would decode against the generated pictures — and an H.264 keyframe that
 * comes without in-band SPS/PPS gets the far end's last ones back, so the
 * output's decoder configuration switches back too.
 */
import { NAL, nalType, type Logger, type VideoFrame } from '../shared/index.js';
import type { SlateOptions } from '../transcode/index.js';
import { SlateLoop, slateFrames } from './slate-loop.js';

export interface HoldVideoOptions {
  /** What the output is fed now (the far end's codec). */
  codec(): 'H264' | 'VP8';
  /** The generated picture (fps included). */
  slate: SlateOptions;
  /** Where frames go: the call's output. */
  onFrame(f: VideoFrame): void;
  /** Asks the far end for a keyframe. */
  requestKeyframe(): void;
  log: Logger;
}

export class HoldVideo {
  #holding = false;
  /** Off hold, until the far end's next keyframe. */
  #waitKey = false;
  #loop: SlateLoop | undefined;
  #sps: Buffer | undefined;
  #pps: Buffer | undefined;
  #closed = false;

  constructor(private readonly o: HoldVideoOptions) {}

  /** Hold starts (generated video from now) or ends (real video from its next keyframe). */
  set(hold: boolean): void {
    if (hold === this.#holding || this.#closed) return;
    this.#holding = hold;
    if (!hold) {
      this.#loop?.stop();
      this.#loop = undefined;
      this.#waitKey = true;
      this.o.requestKeyframe();
      return;
    }
    const codec = this.o.codec();
    const fps = this.o.slate.fps ?? 10;
    slateFrames(codec, this.o.slate).then((frames) => {
      if (!this.#holding || this.#closed || this.#loop) return;
      this.#loop = new SlateLoop(frames, codec, fps, (f) => this.o.onFrame(f));
      this.o.log.info({ codec }, 'on hold: generated video in the output');
    }, (e: unknown) => this.o.log.warn({ err: (e as Error).message }, 'cannot make the video for a call on hold'));
  }

  /** A frame from the far end: what the output gets instead (null: held back). */
  filter(f: VideoFrame): VideoFrame | null {
    if (f.codec === 'H264') this.#noteParameterSets(f);
    if (this.#holding) return null;
    if (!this.#waitKey) return f;
    if (!f.key) return null;
    this.#waitKey = false;
    if (f.codec !== 'H264' || this.#sps === undefined || this.#pps === undefined) return f;
    const types = f.nalus.map(nalType);
    if (types.includes(NAL.SPS) && types.includes(NAL.PPS)) return f;
    return { ...f, nalus: [this.#sps, this.#pps, ...f.nalus.filter((n) => nalType(n) !== NAL.SPS && nalType(n) !== NAL.PPS)] };
  }

  close(): void {
    this.#closed = true;
    this.#loop?.stop();
  }

  #noteParameterSets(f: VideoFrame): void {
    for (const n of f.nalus) {
      const t = nalType(n);
      if (t === NAL.SPS && !n.equals(this.#sps ?? Buffer.alloc(0))) this.#sps = Buffer.from(n);
      else if (t === NAL.PPS && !n.equals(this.#pps ?? Buffer.alloc(0))) this.#pps = Buffer.from(n);
    }
  }
}
