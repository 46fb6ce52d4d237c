/**
 * Silence for an output whose far end sends no audio (SPEC §5, the mirror of
 * the placeholder video): platforms and players refuse or cannot probe a
 * stream whose audio track is announced but empty, so when no real audio
 * came for {@link AUDIO_GAP_MS} (from the start, or after it stopped) the
 * output carries silent frames on the audio track until real audio returns.
 *
 * Pure: the owner calls {@link AudioGapFiller.tick} with the output's
 * timeline (FLV milliseconds) and writes the tags it gets back. Silence is
 * stamped just behind the newest video tag (or behind the clock when there is
 * no video), so the interleaver never has to hold video back for it and real
 * audio, stamped on arrival, always lands after it.
 */
import { aacFrame, g711Frame, type FlvTag } from '../pipeline/index.js';

/** No real audio for this long → silence (from the first media of the output, or from the last real audio). */
export const AUDIO_GAP_MS = 1000;
/** Without video, silence trails the clock by this much (the jitter buffer and transcoder delay of real audio). */
const CLOCK_LAG_MS = 300;
/** Video newer than this counts as flowing: silence follows it rather than the clock. */
const VIDEO_FRESH_MS = 1000;

/**
 * One AAC-LC single-channel element of silence (ISO/IEC 14496-3: an
 * individual_channel_stream with max_sfb = 0), valid at any sampling rate;
 * the same frame hls.js and FFmpeg-based muxers insert for audio gaps.
 */
export const AAC_SILENT_FRAME_MONO = Buffer.from([0x00, 0xc8, 0x00, 0x80, 0x23, 0x80]);

/** What silence looks like on this output's audio track. */
export type SilenceFormat =
  | { codec: 'AAC'; sampleRate: number }
  | { codec: 'PCMA' | 'PCMU' };

export class AudioGapFiller {
  readonly #frameMs: number;
  readonly #make: (ts: number) => FlvTag;
  /** Output time (ms) of the first media, of the last real audio and of the newest video; null before. */
  #firstMediaAt: number | null = null;
  #realAudioAt: number | null = null;
  #videoTs: number | null = null;
  #videoAt = 0;
  /** Timestamp of the next silent frame while filling, null while real audio flows. */
  #next: number | null = null;
  /** Silent frames written so far. */
  frames = 0;

  constructor(format: SilenceFormat) {
    if (format.codec === 'AAC') {
      this.#frameMs = (1024 * 1000) / format.sampleRate;
      this.#make = (ts) => aacFrame(AAC_SILENT_FRAME_MONO, ts);
    } else {
      this.#frameMs = 20;
      const payload = Buffer.alloc(160, format.codec === 'PCMA' ? 0xd5 : 0xff);
      this.#make = (ts) => g711Frame(payload, format.codec, ts);
    }
  }

  /** True while silence is being written. */
  get filling(): boolean {
    return this.#next !== null;
  }

  /** A video tag with timestamp `ts` went out at output time `now`. */
  onVideo(ts: number, now: number): void {
    this.#firstMediaAt ??= now;
    this.#videoTs = ts;
    this.#videoAt = now;
  }

  /** A real audio tag went out at output time `now`: silence stops. */
  onRealAudio(now: number): void {
    this.#firstMediaAt ??= now;
    this.#realAudioAt = now;
    this.#next = null;
  }

  /**
   * The silent tags due at output time `now`, given the last audio
   * timestamp written (`lastAudioTs`, -1 before any): none while real audio
   * flows or before any media.
   */
  tick(now: number, lastAudioTs: number): FlvTag[] {
    if (this.#firstMediaAt === null) return [];
    const since = this.#realAudioAt ?? this.#firstMediaAt;
    if (now - since < AUDIO_GAP_MS) return [];
    const videoFlowing = this.#videoTs !== null && now - this.#videoAt < VIDEO_FRESH_MS;
    const horizon = videoFlowing ? (this.#videoTs as number) : now - CLOCK_LAG_MS;
    // Start (or restart) just behind the horizon, never before audio already written.
    this.#next ??= Math.max(horizon - this.#frameMs, lastAudioTs + this.#frameMs, 0);
    const out: FlvTag[] = [];
    while (this.#next <= horizon) {
      out.push(this.#make(Math.round(this.#next)));
      this.#next += this.#frameMs;
    }
    this.frames += out.length;
    return out;
  }
}
