/**
 * G.711 → AAC through ffmpeg used as a pure codec filter: bytes in on stdin,
 * bytes out on stdout, no socket, no file.
 *
 * Pipe layout: raw G.711 in, ADTS out. It is the cheapest one: G.711 needs no
 * container (one byte per sample at a fixed 8 kHz, so time is the byte count)
 * and ADTS is the thinnest self-delimiting AAC framing (a 7-byte header per
 * frame, carrying everything the AudioSpecificConfig needs). Neither side
 * pays for muxing or for timestamps ffmpeg would only copy through: we keep
 * the clock ourselves, by counting samples.
 *
 * Timing. Input: each packet's pts places it on the input timeline; gaps of
 * up to MAX_FILL_MS are filled with silence so the encoder's sample count
 * stays equal to input time, late or overlapping input is trimmed, and longer
 * gaps (hold) become a recorded jump instead of minutes of silence. Output:
 * the AAC encoder outputs 1024 samples per frame, so frame k starts k × 1024
 * output samples after the first input sample. ffmpeg's native AAC encoder
 * adds 1024 samples of priming (its `initial_padding`; the 8 → 48 kHz
 * resampler adds well under 1 ms, measured): the first frame it writes
 * carries no input. We drop that frame and number the next one 0, which puts
 * every frame's pts at the input time of its first sample (a decoder starting
 * there only misses the overlap of the priming frame, inaudible at the start
 * of a call). Without this, audio would run one frame (21.3 ms) late.
 */
import { type AudioFrameCodec, TypedEmitter, InvalidStateError, type Logger } from '../shared/index.js';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawnCodecFilter } from './ffmpeg-filter.js';
import { AdtsSplitter, ascFromAdts, type AdtsFrameInfo } from './adts.js';
import { ALAW_SILENCE, ULAW_SILENCE } from './g711.js';
import { MatroskaWriter, audioTrackFor } from './matroska.js';

export interface AudioTranscoderOptions {
  ffmpegPath: string;
  /**
   * G.711 goes in raw (see the file comment); Opus, G.722 and Speex go in
   * Matroska (one SimpleBlock per RTP payload, with its time), and ffmpeg's
   * `aresample=async` pads gaps so output time still equals input time.
   */
  inputCodec: AudioFrameCodec;
  /** The RTP clock rate (8000 for G.711 and G.722, 48000 for Opus, 16000 for Speex wideband). */
  inputRate: number;
  /** AAC sample rate, e.g. 48000. */
  outputRate: number;
  /** AAC bit rate in bit/s, e.g. 64000. */
  bitrate: number;
  log: Logger;
}

export const TRANSCODER_STATES = ['idle', 'running', 'closing', 'exited'] as const;
export type TranscoderState = (typeof TRANSCODER_STATES)[number];
/** idle → running (start) → closing (close) → exited; a crash goes running → exited. */
export const TRANSCODER_TRANSITIONS: Readonly<Record<TranscoderState, readonly TranscoderState[]>> = {
  idle: ['running', 'exited'],
  running: ['closing', 'exited'],
  closing: ['exited'],
  exited: [],
};

const AAC_FRAME_SAMPLES = 1024;
/** Frames the encoder writes before the first input sample (see the file comment). */
const PRIMING_FRAMES = 1;
/** Gaps up to this long are filled with silence; longer ones become a pts jump. */
const MAX_FILL_MS = 5000;
/** Differences up to this many input samples (1 ms) are clock jitter, not gaps. */
const TOLERANCE_SAMPLES = 8;
/** stdin backlog (bytes = samples) above which input is dropped: 4 s of G.711. */
const MAX_STDIN_BACKLOG = 32_000;
/**
 * After EOF, how long ffmpeg may take to flush and exit before SIGTERM. It
 * exits as soon as it has flushed; the bound only matters on a loaded
 * machine, where a short one cut the tail of the audio.
 */
const DRAIN_MS = 1000;
const KILL_GRACE_MS = 2000;

/** A jump of the input timeline that was not filled with silence. */
interface Jump {
  /** Input time (ms on the continuous timeline ffmpeg sees) at which it happened. */
  atMs: number;
  ms: number;
}

/**
 * One ffmpeg process turning G.711 packets into AAC access units with pts on
 * the input's clock. Emits `config` once (the AudioSpecificConfig), `frame`
 * per AAC frame, and `exit` once (crashed = it ended without close()).
 */
export class AudioTranscoder extends TypedEmitter<{
  config: [asc: Buffer];
  frame: [raw: Buffer, ptsMs: number];
  exit: [code: number | null, signal: string | null, crashed: boolean];
}> {
  readonly #opts: AudioTranscoderOptions;
  readonly #log: Logger;
  readonly #silence: Buffer;
  readonly #splitter = new AdtsSplitter();
  readonly #onAdts: (info: AdtsFrameInfo, raw: Buffer) => void;
  #state: TranscoderState = 'idle';
  #child: ChildProcessWithoutNullStreams | undefined;
  #firstPts: number | undefined;
  /** Input samples written to ffmpeg (including silence). */
  #inSamples = 0;
  /** Sum of all jumps so far. */
  #jumpMs = 0;
  /** Jumps not yet reached by the output. */
  readonly #jumps: Jump[] = [];
  /** Jump ms already applied to output frames. */
  #outJumpMs = 0;
  #outFrames = 0;
  #configSent = false;
  #stderrTail: () => string = () => '';
  #closing: Promise<void> | undefined;
  #dropped = 0;
  /** Matroska input (non-G.711): the writer, the last block's time and the usual packet spacing. */
  readonly #mkv: MatroskaWriter | null;
  #lastRelMs: number | undefined;
  #stepMs = 20;

  constructor(opts: AudioTranscoderOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.log.child({ component: 'audio-transcoder' });
    this.#silence = Buffer.alloc(8000, opts.inputCodec === 'PCMA' ? ALAW_SILENCE : ULAW_SILENCE);
    this.#mkv = opts.inputCodec === 'PCMA' || opts.inputCodec === 'PCMU' ? null : new MatroskaWriter(audioTrackFor(opts.inputCodec, opts.inputRate));
    this.#onAdts = (info, raw) => this.#onFrame(info, raw);
  }

  /** The ffmpeg process id while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get state(): TranscoderState {
    return this.#state;
  }

  /** Input packets dropped because ffmpeg did not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  #transition(to: TranscoderState): void {
    if (!TRANSCODER_TRANSITIONS[this.#state].includes(to)) {
      throw new InvalidStateError(`audio transcoder: ${this.#state} → ${to} not allowed`);
    }
    this.#state = to;
  }

  /** The ffmpeg argv (no shell). */
  args(): string[] {
    const o = this.#opts;
    if (this.#mkv !== null) {
      return [
        '-hide_banner', '-nostdin', '-loglevel', 'error',
        // The Matroska header names the codec: nothing to probe.
        '-probesize', '32', '-analyzeduration', '0', '-f', 'matroska', '-i', 'pipe:0',
        // Pad gaps (lost or missing packets) and trim overlaps beyond 15 ms, so
        // the encoder's sample count stays equal to input time.
        '-af', 'aresample=async=1:min_hard_comp=0.015:first_pts=0',
        '-vn', '-c:a', 'aac', '-b:a', String(o.bitrate), '-ar', String(o.outputRate), '-ac', '1',
        '-f', 'adts', '-flush_packets', '1', 'pipe:1',
      ];
    }
    return [
      // -nostdin: stdin is our data pipe, never keyboard commands.
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      // Raw input needs no probing: start encoding with the first bytes. (Not
      // `-fflags nobuffer`: it drops the packets read while probing, measured
      // here as 40 ms of lost audio at the start.)
      '-probesize', '32', '-analyzeduration', '0',
      '-f', o.inputCodec === 'PCMA' ? 'alaw' : 'mulaw', '-ar', '8000', '-ac', '1', '-i', 'pipe:0',
      '-vn', '-c:a', 'aac', '-b:a', String(o.bitrate), '-ar', String(o.outputRate), '-ac', '1',
      '-f', 'adts', '-flush_packets', '1', 'pipe:1',
    ];
  }

  start(): void {
    this.#transition('running');
    const { child, stderrTail } = spawnCodecFilter(this.#opts.ffmpegPath, this.args(), this.#log, {
      onOutput: (d) => this.#splitter.push(d, this.#onAdts),
      onExit: (code, signal) => this.#onExit(code, signal),
    });
    this.#child = child;
    this.#stderrTail = stderrTail;
    if (this.#mkv !== null) child.stdin.write(this.#mkv.header());
    this.#log.debug({ pid: child.pid }, 'audio transcoder started');
  }

  /**
   * Feeds one G.711 packet with its pts (ms). Gaps up to 5 s are filled with
   * silence so the output clock stays continuous; late or overlapping input is
   * trimmed; packets are dropped (counted) while ffmpeg lags 4 s behind.
   */
  write(data: Buffer, ptsMs: number): void {
    if (this.#state !== 'running') return;
    const stdin = (this.#child as ChildProcessWithoutNullStreams).stdin;
    if (!stdin.writable) return;
    if (stdin.writableLength > MAX_STDIN_BACKLOG) {
      this.#dropped++;
      return;
    }
    if (this.#mkv !== null) {
      this.#writeBlock(stdin, this.#mkv, data, ptsMs);
      return;
    }
    const rate = 8000;
    if (this.#firstPts === undefined) this.#firstPts = ptsMs;
    const expectedMs = this.#firstPts + this.#jumpMs + (this.#inSamples * 1000) / rate;
    const offset = Math.round(((ptsMs - expectedMs) * rate) / 1000);
    let payload = data;
    if (offset > TOLERANCE_SAMPLES) {
      if ((offset * 1000) / rate <= MAX_FILL_MS) {
        this.#writeSilence(stdin, offset);
      } else {
        const ms = (offset * 1000) / rate;
        this.#jumpMs += ms;
        this.#jumps.push({ atMs: (this.#inSamples * 1000) / rate, ms });
      }
    } else if (offset < -TOLERANCE_SAMPLES) {
      if (-offset >= data.length) return; // entirely before what was written already
      payload = data.subarray(-offset);
    }
    this.#inSamples += payload.length;
    stdin.write(payload);
  }

  /** Matroska input: the block's time on the continuous timeline (gaps over 5 s become jumps). */
  #writeBlock(stdin: NodeJS.WritableStream, mkv: MatroskaWriter, data: Buffer, ptsMs: number): void {
    if (this.#firstPts === undefined) this.#firstPts = ptsMs;
    let rel = ptsMs - this.#firstPts - this.#jumpMs;
    const last = this.#lastRelMs;
    if (last !== undefined) {
      const gap = rel - last;
      if (gap < 1) return; // late or duplicate: already past it
      if (gap > MAX_FILL_MS) {
        const ms = gap - this.#stepMs;
        this.#jumpMs += ms;
        this.#jumps.push({ atMs: last + this.#stepMs, ms });
        rel -= ms;
      } else if (gap <= 120) {
        this.#stepMs = gap;
      }
    }
    this.#lastRelMs = rel;
    stdin.write(mkv.block(data, rel, true));
  }

  #writeSilence(stdin: NodeJS.WritableStream, samples: number): void {
    let left = samples;
    while (left > 0) {
      const n = Math.min(left, this.#silence.length);
      // The same silence buffer is queued repeatedly: it is never modified.
      stdin.write(n === this.#silence.length ? this.#silence : this.#silence.subarray(0, n));
      left -= n;
    }
    this.#inSamples += samples;
  }

  #onFrame(info: AdtsFrameInfo, raw: Buffer): void {
    if (!this.#configSent) {
      this.#configSent = true;
      this.emit('config', ascFromAdts(info));
    }
    const index = this.#outFrames++ - PRIMING_FRAMES;
    if (index < 0 || this.#firstPts === undefined) return;
    const o = this.#opts;
    // Input time at which this frame starts, to apply the jumps it has passed.
    const atInput = (index * AAC_FRAME_SAMPLES * 1000) / o.outputRate;
    while (this.#jumps.length > 0 && (this.#jumps[0] as Jump).atMs <= atInput) {
      this.#outJumpMs += (this.#jumps.shift() as Jump).ms;
    }
    const pts = this.#firstPts + this.#outJumpMs + (index * AAC_FRAME_SAMPLES * 1000) / o.outputRate;
    this.emit('frame', Buffer.from(raw), pts);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#state === 'exited') return;
    const crashed = this.#state !== 'closing';
    this.#state = 'exited';
    if (crashed) {
      this.#log.error({ code, signal, stderr: this.#stderrTail() }, 'ffmpeg audio transcoder exited unexpectedly');
    } else {
      this.#log.debug({ code, signal }, 'audio transcoder exited');
    }
    this.emit('exit', code, signal, crashed);
  }

  /**
   * Ends stdin (ffmpeg flushes and exits), SIGTERM after 300 ms, SIGKILL 2 s
   * later; resolves once the process is gone. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const child = this.#child;
    if (this.#state === 'idle') {
      this.#transition('exited');
      return;
    }
    if (this.#state !== 'running' || child === undefined) return;
    this.#transition('closing');
    const exited = new Promise<void>((resolve) => {
      this.once('exit', () => resolve());
    });
    // EOF first: ffmpeg then encodes what it holds (the last ~2 frames) and exits by itself.
    child.stdin.end();
    const term = setTimeout(() => child.kill('SIGTERM'), DRAIN_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), DRAIN_MS + KILL_GRACE_MS);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
}
