import type { FlvTag } from './flv.js';

/**
 * Merges the audio and video tag streams into one stream ordered by
 * timestamp. Audio comes back from the transcoder later than video with the
 * same timestamp, so video waits for audio — at most `maxHoldMs`, after which
 * a silent track no longer holds the other back. Each track's own order is
 * kept; there is no allocation per tag beyond the FIFO slots.
 */
export class Interleaver {
  readonly #video: FlvTag[] = [];
  readonly #audio: FlvTag[] = [];
  #newest = 0;

  constructor(
    private readonly out: (tag: FlvTag) => void,
    private readonly tracks: { audio: boolean; video: boolean },
    private readonly maxHoldMs = 400,
  ) {}

  push(tag: FlvTag): void {
    if (tag.type === 'script') {
      this.out(tag);
      return;
    }
    (tag.type === 'video' ? this.#video : this.#audio).push(tag);
    if (tag.timestamp > this.#newest) this.#newest = tag.timestamp;
    this.#drain();
  }

  /** Emits everything held (end of stream). */
  flush(): void {
    while (this.#video.length > 0 || this.#audio.length > 0) this.#emitOldest();
  }

  #drain(): void {
    for (;;) {
      const v = this.#video[0];
      const a = this.#audio[0];
      if (v && a) {
        this.#emitOldest();
        continue;
      }
      const head = v ?? a;
      if (!head) return;
      const otherExpected = v ? this.tracks.audio : this.tracks.video;
      if (otherExpected && this.#newest - head.timestamp < this.maxHoldMs) return;
      this.#emitOldest();
    }
  }

  #emitOldest(): void {
    const v = this.#video[0];
    const a = this.#audio[0];
    const takeVideo = v !== undefined && (a === undefined || v.timestamp <= a.timestamp);
    const tag = takeVideo ? this.#video.shift() : this.#audio.shift();
    if (tag) this.out(tag);
  }
}
