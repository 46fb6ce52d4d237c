/**
 * HLS per call (SPEC §6, RFC 8216): the call's FLV tags cut into MPEG-TS
 * segments of about `segmentMs` (cut on the first video keyframe past it, so
 * every segment starts on a keyframe), the last `listSize` of them in a live
 * playlist. Segments live in memory (bounded: `listSize + 2` finished
 * segments, each at most `maxSegmentBytes`), so nothing is left on disk when
 * a call ends. No timers: the tags' timestamps drive the cutting.
 */
import { ParseError, type Logger } from '../shared/index.js';
import type { FlvHeaders, FlvSink } from './fanout.js';
import { isSequenceHeader, type FlvTag } from './flv.js';
import { parseAvcSequenceHeader, type AvcConfig } from './flv-avc.js';
import { TsMuxer, adtsHeader, flvAvcToAnnexB, parseAacSequenceHeader, type AacConfig } from './hls-ts.js';

export interface HlsOptions {
  /** Wanted segment length; default 2000 (the cut waits for the next keyframe past it). */
  segmentMs?: number;
  /** Segments in the playlist (the live window); default 5. */
  listSize?: number;
  /** A segment that grows past this (no keyframe coming) is closed; the next starts on a keyframe. Default 16 MiB. */
  maxSegmentBytes?: number;
  log?: Logger;
}

/** A finished segment. */
export interface HlsSegment {
  readonly seq: number;
  readonly durationMs: number;
  readonly data: Buffer;
  /** Starts after a break (new track layout, or a gap): `#EXT-X-DISCONTINUITY`. */
  readonly discontinuity: boolean;
}

interface OpenSegment {
  seq: number;
  startTs: number;
  chunks: Buffer[];
  bytes: number;
  discontinuity: boolean;
}

/** One stream's segmenter and playlist. Feed it as an FlvSink. */
export class HlsStream implements FlvSink {
  readonly #segmentMs: number;
  readonly #listSize: number;
  readonly #maxBytes: number;
  readonly #log: Logger | undefined;
  #avc: AvcConfig | undefined;
  #aac: AacConfig | undefined;
  #mux: TsMuxer | undefined;
  #tracks = '';
  #cur: OpenSegment | undefined;
  readonly #done: HlsSegment[] = [];
  /** Discontinuities in segments already out of the playlist (EXT-X-DISCONTINUITY-SEQUENCE). */
  #discontinuitySeq = 0;
  #nextSeq = 0;
  #breakPending = false;
  #firstAudioTs: number | undefined;
  #lastTs = 0;
  #targetS: number;
  #closed = false;
  /** Tags that could not be muxed (malformed). */
  badTags = 0;

  constructor(readonly name: string, opts: HlsOptions = {}) {
    this.#segmentMs = opts.segmentMs ?? 2000;
    this.#listSize = opts.listSize ?? 5;
    this.#maxBytes = opts.maxSegmentBytes ?? 16 * 1024 * 1024;
    this.#log = opts.log;
    this.#targetS = Math.max(1, Math.ceil(this.#segmentMs / 1000));
  }

  /** Finished segments held (the playlist's and up to two older ones still being fetched). */
  get segments(): readonly HlsSegment[] {
    return this.#done;
  }

  setHeaders(headers: FlvHeaders): void {
    try {
      // The whole set: a header that is gone (audio no longer AAC) is forgotten.
      this.#avc = headers.video ? parseAvcSequenceHeader(headers.video.data) : undefined;
      this.#aac = headers.audio ? parseAacSequenceHeader(headers.audio.data) ?? undefined : undefined;
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.#log?.warn({ err: e.message, stream: this.name }, 'HLS: unusable sequence header');
    }
  }

  write(tag: FlvTag): void {
    if (this.#closed || tag.type === 'script' || isSequenceHeader(tag)) return;
    try {
      if (tag.type === 'video') this.#video(tag);
      else this.#audio(tag);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      this.badTags++;
    }
  }

  /**
   * The live playlist (RFC 8216 §4.3), or null before the first segment is
   * finished. `query` (e.g. `?sign=...`) is appended to every segment URI.
   */
  playlist(query = ''): string | null {
    const list = this.#done.slice(-this.#listSize);
    const first = list[0];
    if (first === undefined) return null;
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${this.#targetS}`,
      `#EXT-X-MEDIA-SEQUENCE:${first.seq}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${this.#discontinuitySeq + this.#done.slice(0, -this.#listSize).filter((s) => s.discontinuity).length}`,
    ];
    for (const s of list) {
      if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      lines.push(`#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, `${s.seq}.ts${query}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** A held segment's bytes, or undefined. */
  segment(seq: number): Buffer | undefined {
    return this.#done.find((s) => s.seq === seq)?.data;
  }

  /** Drops everything. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#cur = undefined;
    this.#done.length = 0;
  }

  #video(tag: FlvTag): void {
    const avc = this.#avc;
    if (avc === undefined) return;
    const cur = this.#cur;
    if (tag.key && (cur === undefined || tag.timestamp - cur.startTs >= this.#segmentMs || this.#tracks !== this.#wantedTracks())) {
      this.#open(tag.timestamp);
    }
    if (this.#cur === undefined || this.#mux === undefined) return;
    const { au, cts } = flvAvcToAnnexB(tag.data, avc, tag.key);
    this.#append(this.#mux.video(au, tag.timestamp, cts, tag.key), tag.timestamp);
  }

  #audio(tag: FlvTag): void {
    const aac = this.#aac;
    if (aac === undefined || tag.data.length < 3 || tag.data[1] !== 1) return;
    const ts = tag.timestamp;
    this.#firstAudioTs ??= ts;
    if (this.#avc === undefined) {
      // No video (yet): after a segment's worth of audio alone, run audio-only; cut on time.
      if (ts - this.#firstAudioTs < this.#segmentMs) return;
      if (this.#cur === undefined || ts - this.#cur.startTs >= this.#segmentMs) this.#open(ts);
    }
    if (this.#cur === undefined || this.#mux === undefined || ts < this.#cur.startTs) return;
    const raw = tag.data.subarray(2);
    this.#append(this.#mux.audio(Buffer.concat([adtsHeader(aac, raw.length), raw]), ts), ts);
  }

  #wantedTracks(): string {
    return `${this.#avc !== undefined ? 'v' : ''}${this.#aac !== undefined ? 'a' : ''}`;
  }

  /** Finishes the open segment at `ts` and opens the next one there. */
  #open(ts: number): void {
    this.#finish(ts);
    const tracks = this.#wantedTracks();
    let discontinuity = this.#breakPending;
    if (this.#mux === undefined || tracks !== this.#tracks) {
      discontinuity ||= this.#mux !== undefined;
      this.#mux = new TsMuxer({ video: this.#avc !== undefined, audio: this.#aac !== undefined });
      this.#tracks = tracks;
    }
    this.#breakPending = false;
    const tables = this.#mux.tables();
    this.#cur = { seq: this.#nextSeq++, startTs: ts, chunks: [tables], bytes: tables.length, discontinuity };
  }

  #append(packets: Buffer, ts: number): void {
    const cur = this.#cur as OpenSegment;
    cur.chunks.push(packets);
    cur.bytes += packets.length;
    if (ts > this.#lastTs) this.#lastTs = ts;
    if (cur.bytes > this.#maxBytes) {
      this.#log?.warn({ stream: this.name, bytes: cur.bytes }, 'HLS segment too big (no keyframe): closed early');
      this.#finish(this.#lastTs);
      this.#breakPending = true;
    }
  }

  #finish(endTs: number): void {
    const cur = this.#cur;
    this.#cur = undefined;
    if (cur === undefined) return;
    const durationMs = Math.max(1, endTs - cur.startTs);
    this.#done.push({ seq: cur.seq, durationMs, data: Buffer.concat(cur.chunks, cur.bytes), discontinuity: cur.discontinuity });
    // EXTINF rounded to the nearest integer must not exceed the target duration (RFC 8216 §4.3.3.1).
    // A far end whose GOP outgrows segmentMs raises it (the keyframe cadence requests keep that rare).
    this.#targetS = Math.max(this.#targetS, Math.round(durationMs / 1000));
    while (this.#done.length > this.#listSize + 2) {
      const old = this.#done.shift() as HlsSegment;
      if (old.discontinuity) this.#discontinuitySeq++;
    }
  }
}

/** The HLS streams of the process, by name (a call's toStream). */
export class HlsStore {
  readonly #streams = new Map<string, HlsStream>();

  constructor(private readonly opts: HlsOptions = {}) {}

  /** A new stream under `name` (replacing, and closing, an older one of that name). */
  create(name: string, log?: Logger): HlsStream {
    this.#streams.get(name)?.close();
    const s = new HlsStream(name, { ...this.opts, ...(log ? { log } : {}) });
    this.#streams.set(name, s);
    return s;
  }

  get(name: string): HlsStream | undefined {
    return this.#streams.get(name);
  }

  /** Removes `stream` (only if it is still the one under its name). */
  remove(stream: HlsStream): void {
    stream.close();
    if (this.#streams.get(stream.name) === stream) this.#streams.delete(stream.name);
  }

  get size(): number {
    return this.#streams.size;
  }

  close(): void {
    for (const s of this.#streams.values()) s.close();
    this.#streams.clear();
  }
}
