/**
 * One call's FLV tags shared by every RTMP target (DESIGN §1, §4: cost grows
 * with bytes, not targets). Keeps the sequence headers and a GOP cache (the
 * last video keyframe and everything after it), so a target that joins or
 * reconnects starts at once on a keyframe, with the headers, and with the
 * call's own timestamps (which continue across reconnects).
 */
import { TypedEmitter } from '../shared/index.js';
import { isSequenceHeader, type FlvTag } from './flv.js';

/** The tags sent first on every connection. */
export interface FlvHeaders {
  metadata?: FlvTag;
  video?: FlvTag;
  audio?: FlvTag;
}

/** What a tag source (the call's MediaOutput) feeds. */
export interface FlvSink {
  setHeaders(headers: FlvHeaders): void;
  write(tag: FlvTag): void;
}

/** A sink that (re)starts publishing, e.g. an RTMP publisher after each (re)connect: it gets the GOP cache then. */
export interface FlvTarget extends FlvSink {
  on(event: 'publishing', listener: () => void): unknown;
  off(event: 'publishing', listener: () => void): unknown;
}

export interface FlvFanoutOptions {
  /** Cache bound; past it the cache is dropped until the next keyframe. Default 8 MiB. */
  maxCacheBytes?: number;
}

/**
 * Fans tags out to publishers. `keyframeNeeded` fires when a target starts
 * publishing and no keyframe is cached (so it would wait for the far end's
 * next one); `gop` reports the interval between the last two keyframes.
 */
export class FlvFanout extends TypedEmitter<{ keyframeNeeded: [reason: string]; gop: [ms: number] }> implements FlvSink {
  readonly #targets = new Map<FlvTarget, () => void>();
  /** Plain consumers (HLS): always "publishing". */
  readonly #sinks = new Set<FlvSink>();
  #headers: FlvHeaders = {};
  readonly #maxCache: number;
  #cache: FlvTag[] = [];
  #cacheBytes = 0;
  /** False until a keyframe starts the cache (or after the bound was passed). */
  #cacheValid = false;
  #lastKeyTs: number | undefined;
  /** Last measured keyframe interval, ms. */
  gopMs: number | undefined;

  constructor(opts: FlvFanoutOptions = {}) {
    super();
    this.#maxCache = opts.maxCacheBytes ?? 8 * 1024 * 1024;
  }

  get headers(): Readonly<FlvHeaders> {
    return this.#headers;
  }

  /** Tags held in the GOP cache (for tests and metrics). */
  get cachedTags(): number {
    return this.#cache.length;
  }

  get cachedBytes(): number {
    return this.#cacheBytes;
  }

  /** Adds a target: it gets the headers now, and the GOP cache each time it starts publishing. */
  add(p: FlvTarget): void {
    if (this.#targets.has(p)) return;
    const onPublishing = (): void => this.#join(p);
    p.on('publishing', onPublishing);
    this.#targets.set(p, onPublishing);
    p.setHeaders(this.#headers);
  }

  remove(p: FlvTarget): void {
    const l = this.#targets.get(p);
    if (l === undefined) return;
    p.off('publishing', l);
    this.#targets.delete(p);
  }

  get size(): number {
    return this.#targets.size;
  }

  /** Adds a plain consumer: it gets the headers and the cached GOP now, then every tag. */
  addSink(sink: FlvSink): void {
    if (this.#sinks.has(sink)) return;
    this.#sinks.add(sink);
    sink.setHeaders(this.#headers);
    if (this.#cacheValid) for (const t of this.#cache) sink.write(t);
  }

  removeSink(sink: FlvSink): void {
    this.#sinks.delete(sink);
  }

  /**
   * Replaces the whole header set: a header missing from `headers` is gone
   * (e.g. the AAC sequence header after the audio became G.711 copied as
   * is), so a target that (re)connects later never gets a stale one.
   */
  setHeaders(headers: FlvHeaders): void {
    this.#headers = { ...headers };
    for (const p of this.#targets.keys()) p.setHeaders(this.#headers);
    for (const k of this.#sinks) k.setHeaders(this.#headers);
  }

  write(tag: FlvTag): void {
    this.#cacheTag(tag);
    for (const p of this.#targets.keys()) p.write(tag);
    for (const k of this.#sinks) k.write(tag);
  }

  /** Drops the cache and the targets (the targets are closed by their owner). */
  clear(): void {
    for (const [p, l] of this.#targets) p.off('publishing', l);
    this.#targets.clear();
    this.#sinks.clear();
    this.#cache = [];
    this.#cacheBytes = 0;
    this.#cacheValid = false;
  }

  #cacheTag(tag: FlvTag): void {
    if (tag.type === 'script' || isSequenceHeader(tag)) return;
    if (tag.type === 'video' && tag.key) {
      if (this.#lastKeyTs !== undefined && tag.timestamp > this.#lastKeyTs) {
        this.gopMs = tag.timestamp - this.#lastKeyTs;
        this.emit('gop', this.gopMs);
      }
      this.#lastKeyTs = tag.timestamp;
      this.#cache = [];
      this.#cacheBytes = 0;
      this.#cacheValid = true;
    } else if (!this.#cacheValid) {
      // Audio-only: nothing to wait for, keep no cache (each frame decodes alone).
      return;
    }
    this.#cache.push(tag);
    this.#cacheBytes += tag.data.length;
    if (this.#cacheBytes > this.#maxCache) {
      this.#cache = [];
      this.#cacheBytes = 0;
      this.#cacheValid = false;
    }
  }

  /** A target's publish was accepted (first time or after a reconnect): replay the GOP. */
  #join(p: FlvTarget): void {
    if (this.#cacheValid) {
      for (const t of this.#cache) p.write(t);
    } else if (this.#headers.video !== undefined || this.#lastKeyTs !== undefined) {
      this.emit('keyframeNeeded', 'RTMP target started publishing with no keyframe cached');
    }
  }
}
