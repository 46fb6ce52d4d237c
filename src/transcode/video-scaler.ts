/**
 * The picture x264 is given (h264-engine.ts): yuv420p, even dimensions,
 * within an optional resolution cap (aspect kept, never upscaled). A decoded
 * picture that already is one passes through untouched, without a copy; any
 * other (too large, odd-sized, or another pixel format such as the full-range
 * yuvj420p some H.264 cameras send) goes through libswscale into one
 * destination frame reused picture after picture. The context and that frame
 * are made again only when the input's size or pixel format changes.
 *
 * Why libswscale directly rather than a filter graph (slate-engine.ts):
 * measured on 1280×720 → 640×360, ~0.45 ms a picture against ~0.56 ms, and
 * the graph hands out a new frame per picture.
 */
import { FFmpegError, Frame, SoftwareScaleContext } from 'node-av/lib';
import { AV_PIX_FMT_YUV420P, SWS_BILINEAR, type AVPixelFormat } from 'node-av/constants';

/** Rounds to an even number no larger than `cap` (and at least 2: x264's yuv420p needs even sides). */
function even(v: number, cap: number): number {
  return Math.max(2, Math.min(Math.round(v / 2) * 2, cap - (cap % 2)));
}

/**
 * The size a `width`×`height` picture is encoded at: scaled down to fit inside
 * `maxWidth`×`maxHeight` (0: no cap on that side) with its aspect kept, never
 * up, both sides even.
 */
export function fitSize(width: number, height: number, maxWidth = 0, maxHeight = 0): { width: number; height: number } {
  const capW = maxWidth > 0 ? Math.min(width, maxWidth) : width;
  const capH = maxHeight > 0 ? Math.min(height, maxHeight) : height;
  const s = Math.min(capW / width, capH / height);
  return { width: even(width * s, capW), height: even(height * s, capH) };
}

export class VideoScaler {
  readonly #maxWidth: number;
  readonly #maxHeight: number;
  #srcWidth = -1;
  #srcHeight = -1;
  #srcFormat = -1;
  /** No context: the input passes as it is (or, with `#unsupported`, cannot be converted). */
  #sws: SoftwareScaleContext | undefined;
  #dst: Frame | undefined;
  #unsupported = false;

  /** `maxWidth`/`maxHeight`: the cap, 0 for none on that side. */
  constructor(maxWidth = 0, maxHeight = 0) {
    this.#maxWidth = maxWidth;
    this.#maxHeight = maxHeight;
  }

  /**
   * The picture to encode: `src` itself when it fits, else its scaled copy
   * (valid until the next call; pts, picture type and time base are the
   * caller's to set), or undefined when libswscale takes no such input.
   */
  fit(src: Frame): Frame | undefined {
    if (src.width !== this.#srcWidth || src.height !== this.#srcHeight || src.format !== this.#srcFormat) this.#setup(src);
    const sws = this.#sws;
    const dst = this.#dst;
    if (sws === undefined || dst === undefined) return this.#unsupported ? undefined : src;
    // A no-op unless the encoder still holds a reference to the last picture's buffers.
    FFmpegError.throwIfError(dst.makeWritable(), 'scaled frame');
    FFmpegError.throwIfError(sws.scaleFrameSync(dst, src), 'scale');
    return dst;
  }

  /** Frees the context and the frame; the scaler may be used again (it makes them anew). */
  free(): void {
    this.#sws?.freeContext();
    this.#sws = undefined;
    this.#dst?.free();
    this.#dst = undefined;
    this.#srcWidth = this.#srcHeight = this.#srcFormat = -1;
  }

  #setup(src: Frame): void {
    this.free();
    const { width, height, format } = src;
    this.#srcWidth = width;
    this.#srcHeight = height;
    this.#srcFormat = format;
    this.#unsupported = false;
    const out = fitSize(width, height, this.#maxWidth, this.#maxHeight);
    if (format === AV_PIX_FMT_YUV420P && out.width === width && out.height === height) return;
    const sws = new SoftwareScaleContext();
    try {
      sws.getContext(width, height, format as AVPixelFormat, out.width, out.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
    } catch {
      // libswscale refuses the input format (it says so on its log): such pictures are counted and dropped.
      sws.freeContext();
      this.#unsupported = true;
      return;
    }
    this.#sws = sws;
    const dst = new Frame();
    dst.alloc();
    dst.width = out.width;
    dst.height = out.height;
    dst.format = AV_PIX_FMT_YUV420P;
    this.#dst = dst;
    FFmpegError.throwIfError(dst.allocBuffer(), 'scaled frame');
  }
}
