/**
 * VP8 (or anything RTMP cannot carry) → H.264 through ffmpeg as a pure codec
 * filter (DESIGN §1): Matroska on stdin (one SimpleBlock per frame with its
 * time), FLV on stdout (H.264 with timestamps, parsed by FlvVideoReader).
 * x264 with zerolatency and no B-frames gives one output frame per input
 * frame at once; keyframes are forced every `keyframeIntervalS` of input
 * time (SPEC §5: every 2 s), whatever the frame rate.
 *
 * Timing: block times are the input pts relative to the first frame, with
 * gaps over 5 s (hold) taken out so ffmpeg sees a continuous timeline; output
 * tags are put back on the input clock by adding the first pts and the jumps.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { TypedEmitter, type Logger } from '../shared/index.js';
import { spawnCodecFilter } from './ffmpeg-filter.js';
import { FlvVideoReader } from './flv-video-reader.js';
import { MatroskaWriter } from './matroska.js';

export interface VideoTranscoderOptions {
  ffmpegPath: string;
  inputCodec: 'VP8';
  /** x264 preset, e.g. `veryfast`. */
  preset: string;
  keyframeIntervalS: number;
  log: Logger;
}

const MAX_GAP_MS = 5000;
/** stdin backlog above which input frames are dropped (then the chain waits for a keyframe). */
const MAX_STDIN_BACKLOG = 4 * 1024 * 1024;
const DRAIN_MS = 500;
const KILL_GRACE_MS = 2000;

export class VideoTranscoder extends TypedEmitter<{
  frame: [nalus: Buffer[], key: boolean, ptsMs: number];
  exit: [code: number | null, signal: string | null, crashed: boolean];
}> {
  readonly #opts: VideoTranscoderOptions;
  readonly #log: Logger;
  readonly #mkv = new MatroskaWriter({ kind: 'video', codecId: 'V_VP8' });
  readonly #reader = new FlvVideoReader();
  #child: ChildProcessWithoutNullStreams | undefined;
  #firstPts: number | undefined;
  #lastRel = -1;
  #jumpMs = 0;
  readonly #jumps: { atMs: number; ms: number }[] = [];
  #outJumpMs = 0;
  #needKey = false;
  #state: 'idle' | 'running' | 'closing' | 'exited' = 'idle';
  #stderrTail: () => string = () => '';
  #closing: Promise<void> | undefined;
  dropped = 0;

  constructor(opts: VideoTranscoderOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'video-transcoder' });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  args(): string[] {
    const o = this.#opts;
    return [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-probesize', '32', '-analyzeduration', '0', '-f', 'matroska', '-i', 'pipe:0',
      '-an', '-fps_mode', 'passthrough',
      '-c:v', 'libx264', '-preset', o.preset, '-tune', 'zerolatency', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-bf', '0',
      '-force_key_frames', `expr:gte(t,n_forced*${o.keyframeIntervalS})`, '-g', '100000', '-sc_threshold', '0',
      '-f', 'flv', '-flvflags', 'no_duration_filesize', '-flush_packets', '1', 'pipe:1',
    ];
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    const { child, stderrTail } = spawnCodecFilter(this.#opts.ffmpegPath, this.args(), this.#log, {
      onOutput: (d) => {
        for (const f of this.#reader.push(d)) this.#onFrame(f.nalus, f.key, f.ms);
      },
      onExit: (code, signal) => this.#onExit(code, signal),
    });
    this.#child = child;
    this.#stderrTail = stderrTail;
    child.stdin.write(this.#mkv.header());
  }

  /** Feeds one frame (a whole VP8 frame) with its pts; the first must be a keyframe. */
  write(frame: Buffer, key: boolean, ptsMs: number): void {
    const stdin = this.#child?.stdin;
    if (this.#state !== 'running' || !stdin?.writable) return;
    if (this.#firstPts === undefined) {
      if (!key) return;
      this.#firstPts = ptsMs;
    }
    if (stdin.writableLength > MAX_STDIN_BACKLOG) {
      this.dropped++;
      this.#needKey = true;
      return;
    }
    if (this.#needKey && !key) return;
    this.#needKey = false;
    let rel = ptsMs - this.#firstPts - this.#jumpMs;
    if (rel - this.#lastRel > MAX_GAP_MS) {
      const ms = rel - this.#lastRel - 40;
      this.#jumpMs += ms;
      this.#jumps.push({ atMs: this.#lastRel + 40, ms });
      rel -= ms;
    }
    rel = Math.max(Math.round(rel), this.#lastRel + 1); // strictly increasing block times
    this.#lastRel = rel;
    stdin.write(this.#mkv.block(frame, rel, key));
  }

  #onFrame(nalus: Buffer[], key: boolean, ms: number): void {
    if (this.#firstPts === undefined) return;
    while (this.#jumps.length > 0 && this.#jumps[0]!.atMs <= ms) this.#outJumpMs += this.#jumps.shift()!.ms;
    this.emit('frame', nalus, key, this.#firstPts + this.#outJumpMs + ms);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#state === 'exited') return;
    const crashed = this.#state !== 'closing';
    this.#state = 'exited';
    if (crashed) this.#log.error({ code, signal, stderr: this.#stderrTail() }, 'ffmpeg video transcoder exited unexpectedly');
    this.emit('exit', code, signal, crashed);
  }

  /** EOF, then SIGTERM after 500 ms and SIGKILL 2 s later; resolves once the process is gone. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const child = this.#child;
    if (this.#state !== 'running' || child === undefined) {
      this.#state = 'exited';
      return;
    }
    this.#state = 'closing';
    const exited = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    child.stdin.end();
    const term = setTimeout(() => child.kill('SIGTERM'), DRAIN_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), DRAIN_MS + KILL_GRACE_MS);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}
