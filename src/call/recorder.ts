/**
 * Records one call's output to an FLV file (`record: true`, WCS parity): the
 * tags the RTMP targets get, from the first video keyframe on (audio-only: at
 * once), timestamps from 0. A recording must never hurt the call: nothing
 * throws to the tag source; a problem ends the recording with a stated reason
 * and a playable file (a failed write is cut back to the last whole tag; the
 * onMetaData `duration`/`filesize` are patched in place on close). Writes are
 * queued and written a batch (writev) at a time; past `maxPendingBytes` queued
 * the disk is too slow and the recording stops (SLOW_DISK) rather than drop
 * video to the next keyframe: a shorter file with a stated reason is easier
 * to trust than one with holes. Free space is checked at open and every
 * `checkIntervalMs`, so the recording stops before the disk is really full.
 */
import { mkdir, open, statfs, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import {
  encodeAmf0, flvFileHeader, isSequenceHeader, serializeFlvTag, type FlvHeaders, type FlvSink, type FlvTag,
} from '../pipeline/index.js';
import { ConflictError, TypedEmitter, ValidationError, type Logger } from '../shared/index.js';

export type RecordingStatus = 'RECORDING' | 'COMPLETED' | 'STOPPED';
export type RecordingStopReason = 'DISK_FULL' | 'MAX_SIZE' | 'WRITE_ERROR' | 'SLOW_DISK';

export interface CallRecorderOptions {
  /** Created (mode 0o750) when missing. */
  dir: string;
  /** File name without `.flv`: `[A-Za-z0-9_.-]{1,200}`, not starting with '.'. See {@link recordingName}. */
  name: string;
  hasAudio: boolean;
  /** Writing starts at the first video keyframe once the AVC sequence header is known. */
  hasVideo: boolean;
  /** Free space (bavail × bsize) under which the recording stops with DISK_FULL. */
  minFreeBytes: number;
  /** File size cap; the recording stops with MAX_SIZE rather than pass it. 0: no cap. */
  maxFileBytes: number;
  log: Logger;
  /** Free-space check period; default 5000 ms. */
  checkIntervalMs?: number;
  /** Bytes queued or being written past which the recording stops with SLOW_DISK; default 16 MiB. */
  maxPendingBytes?: number;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,200}$/;
/** Offset of the onMetaData body: FLV header, PreviousTagSize0, tag header. */
const META_BODY_AT = 9 + 4 + 11;

/**
 * A safe, sortable file name: `<toStream>_<YYYYMMDD-HHMMSS, UTC>_<callId>`,
 * each part reduced to `[A-Za-z0-9_-]` (toStream ≤ 100, callId ≤ 64
 * characters). The time comes before the call id so that one stream's
 * recordings sort by time.
 */
export function recordingName(toStream: string, callId: string, at: Date): string {
  const safe = (s: string, max: number, dflt: string): string => s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, max) || dflt;
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${safe(toStream, 100, 'stream')}_${stamp}_${safe(callId, 64, 'call')}`;
}

/** File offset of the 8-byte number after property `key` (and its type marker) in the onMetaData body. */
function numberAt(body: Buffer, key: string): number {
  const k = Buffer.alloc(2 + key.length);
  k.writeUInt16BE(key.length, 0);
  k.write(key, 2, 'latin1');
  return META_BODY_AT + body.indexOf(k) + k.length + 1;
}

/**
 * Writes every byte at `position`. A write can come back short (a filling
 * disk takes what fits): the rest is written again, so the real error
 * (ENOSPC, EDQUOT, EIO) is what stops the recording.
 */
async function writeAll(fh: FileHandle, bufs: Buffer[], total: number, position: number): Promise<void> {
  let done = 0;
  let rest = bufs;
  while (done < total) {
    const { bytesWritten } = await fh.writev(rest, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error(`no progress writing: ${done} of ${total} bytes`), { code: 'EIO' });
    done += bytesWritten;
    let skip = bytesWritten;
    while (skip > 0 && rest.length > 0) {
      const first = rest[0] as Buffer;
      if (first.length <= skip) {
        skip -= first.length;
        rest = rest.slice(1);
      } else {
        rest = [first.subarray(skip), ...rest.slice(1)];
        skip = 0;
      }
    }
  }
}

export class CallRecorder extends TypedEmitter<{ stopped: [reason: RecordingStopReason] }> implements FlvSink {
  #status: RecordingStatus = 'RECORDING';
  #stopReason: RecordingStopReason | undefined;
  #headers: FlvHeaders = {};
  /** The sequence headers already queued into the file (by identity, as the RTMP publisher does). */
  readonly #inFile: { video?: FlvTag; audio?: FlvTag } = {};
  /** Source timestamp of the first written tag; undefined until writing starts. */
  #base: number | undefined;
  /** File timestamp of the last queued tag (where a changed sequence header goes). */
  #lastTs = 0;
  #queue: Buffer[] = [];
  #queueBytes = 0;
  #queueMaxTs = 0;
  #inflight = 0;
  /** Bytes on disk, whole tags only. */
  #offset: number;
  /** Largest file timestamp on disk: the duration. */
  #diskMaxTs = 0;
  #draining: Promise<void> | null = null;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | null = null;

  private constructor(
    private readonly fh: FileHandle,
    /** Absolute path of the file. */
    readonly path: string,
    private readonly opts: CallRecorderOptions,
    /** File offsets of the onMetaData numbers to patch. */
    private readonly at: { duration: number; filesize: number },
    headerBytes: number,
  ) {
    super((event, err) => opts.log.error({ err, event }, 'recorder listener threw'));
    this.#offset = headerBytes;
  }

  /**
   * Creates `<dir>/<name>.flv` and writes the FLV header and onMetaData.
   * Rejects with ValidationError for a bad name, ConflictError when the file
   * exists (never overwritten), or the fs error. Resolves already STOPPED
   * (DISK_FULL, file closed) when free space is below `minFreeBytes`.
   */
  static async open(opts: CallRecorderOptions): Promise<CallRecorder> {
    if (!NAME_RE.test(opts.name) || opts.name.startsWith('.')) {
      throw new ValidationError(`invalid recording name: ${JSON.stringify(opts.name.slice(0, 64))}`);
    }
    const dir = path.resolve(opts.dir);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const file = path.join(dir, `${opts.name}.flv`);
    const fh = await open(file, 'wx', 0o640).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EEXIST' ? new ConflictError(`recording exists: ${opts.name}.flv`, { cause: err }) : err;
    });
    const meta = encodeAmf0('onMetaData', new Map([['duration', 0], ['filesize', 0]]));
    const head = [flvFileHeader(opts.hasAudio, opts.hasVideo), serializeFlvTag({ type: 'script', timestamp: 0, data: meta, key: false })];
    const size = head[0]!.length + head[1]!.length;
    try {
      await writeAll(fh, head, size, 0);
    } catch (err) {
      // Not even the header: leave no broken file behind.
      await fh.close().catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw err;
    }
    const r = new CallRecorder(fh, file, opts, { duration: numberAt(meta, 'duration'), filesize: numberAt(meta, 'filesize') }, size);
    opts.log.info({ path: file }, 'recording started');
    await r.#checkSpace();
    if (r.#status !== 'RECORDING') await r.close();
    else r.#timer = setInterval(() => void r.#checkSpace(), opts.checkIntervalMs ?? 5000).unref();
    return r;
  }

  get status(): RecordingStatus {
    return this.#status;
  }

  get stopReason(): RecordingStopReason | undefined {
    return this.#stopReason;
  }

  /** Bytes in the file (whole tags only). */
  get bytes(): number {
    return this.#offset;
  }

  setHeaders(headers: FlvHeaders): void {
    this.#headers = { ...headers };
    if (this.#base !== undefined && this.#open()) this.#guard(() => this.#writeHeaders(this.#lastTs));
  }

  write(tag: FlvTag): void {
    if (!this.#open() || tag.type === 'script') return; // the file has its own onMetaData
    this.#guard(() => {
      if (isSequenceHeader(tag)) {
        this.#headers = { ...this.#headers, [tag.type]: tag };
        if (this.#base !== undefined) this.#writeHeaders(this.#lastTs);
        return;
      }
      if (this.#base === undefined) {
        if (this.opts.hasVideo && !(tag.type === 'video' && tag.key && this.#headers.video !== undefined)) return;
        this.#base = tag.timestamp;
        this.#writeHeaders(0);
      }
      this.#enqueue(tag, Math.max(0, tag.timestamp - this.#base));
    });
  }

  /** Flushes, patches duration and filesize, closes the file; idempotent, never rejects. */
  close(): Promise<void> {
    this.#closing ??= this.#finish();
    return this.#closing;
  }

  #open(): boolean {
    return this.#status === 'RECORDING' && this.#closing === null;
  }

  /** Runs `fn` for the tag source (an error ends the recording, never the call), then starts writing its batch. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#stop('WRITE_ERROR', err);
    }
    this.#kick();
  }

  /** #drain awaits before it reads #draining again, so this assignment comes first. */
  #kick(): void {
    if (this.#draining === null && this.#queue.length > 0) this.#draining = this.#drain();
  }

  #writeHeaders(ts: number): void {
    for (const k of ['video', 'audio'] as const) {
      const h = this.#headers[k];
      if (h === undefined || h === this.#inFile[k]) continue;
      this.#inFile[k] = h;
      this.#enqueue(h, ts);
    }
  }

  #enqueue(tag: FlvTag, ts: number): void {
    if (!this.#open()) return;
    const buf = serializeFlvTag({ type: tag.type, timestamp: ts, data: tag.data, key: tag.key });
    const max = this.opts.maxFileBytes;
    if (max > 0 && this.#offset + this.#inflight + this.#queueBytes + buf.length > max) return this.#stop('MAX_SIZE');
    this.#queue.push(buf);
    this.#queueBytes += buf.length;
    this.#queueMaxTs = Math.max(this.#queueMaxTs, ts);
    this.#lastTs = ts;
    if (this.#queueBytes + this.#inflight > (this.opts.maxPendingBytes ?? 16 * 1024 * 1024)) this.#stop('SLOW_DISK');
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const bufs = this.#queue;
        const ts = this.#queueMaxTs;
        this.#inflight = this.#queueBytes;
        this.#queue = [];
        this.#queueBytes = 0;
        try {
          await writeAll(this.fh, bufs, this.#inflight, this.#offset);
        } catch (err) {
          // Cut a partly written tag off (which also frees space): the file ends on a whole tag.
          await this.fh.truncate(this.#offset).catch(() => undefined);
          this.#queue = [];
          this.#queueBytes = 0;
          const code = (err as NodeJS.ErrnoException).code;
          return this.#stop(code === 'ENOSPC' || code === 'EDQUOT' ? 'DISK_FULL' : 'WRITE_ERROR', err);
        }
        this.#offset += this.#inflight;
        this.#diskMaxTs = Math.max(this.#diskMaxTs, ts);
      }
    } finally {
      this.#inflight = 0;
      this.#draining = null;
    }
  }

  async #checkSpace(): Promise<void> {
    if (!this.#open()) return;
    try {
      const s = await statfs(path.dirname(this.path));
      if (s.bavail * s.bsize < this.opts.minFreeBytes && this.#open()) this.#stop('DISK_FULL');
    } catch (err) {
      this.opts.log.debug({ err }, 'recording: statfs failed');
    }
  }

  /**
   * Ends the recording once, keeping what it has. The queue is still written
   * for MAX_SIZE (it fits the cap) and a free-space DISK_FULL (the disk still
   * takes it), and dropped for WRITE_ERROR and SLOW_DISK.
   */
  #stop(reason: RecordingStopReason, err?: unknown): void {
    if (this.#status !== 'RECORDING') return;
    this.#status = 'STOPPED';
    this.#stopReason = reason;
    if (reason === 'WRITE_ERROR' || reason === 'SLOW_DISK') {
      this.#queue = [];
      this.#queueBytes = 0;
    }
    this.opts.log.warn({ path: this.path, reason, bytes: this.#offset, err }, 'recording stopped');
    this.emit('stopped', reason);
    void this.close();
  }

  async #finish(): Promise<void> {
    clearInterval(this.#timer);
    this.#kick();
    while (this.#draining !== null) await this.#draining;
    const b = Buffer.allocUnsafe(16);
    b.writeDoubleBE(this.#diskMaxTs / 1000, 0);
    b.writeDoubleBE(this.#offset, 8);
    try {
      await this.fh.write(b, 0, 8, this.at.duration);
      await this.fh.write(b, 8, 8, this.at.filesize);
    } catch (err) {
      this.opts.log.warn({ err, path: this.path }, 'recording: cannot patch duration and filesize');
    }
    await this.fh.close().catch((err: unknown) => this.opts.log.warn({ err, path: this.path }, 'recording: close failed'));
    if (this.#status === 'RECORDING') this.#status = 'COMPLETED';
    const { status, stopReason, bytes } = this;
    this.opts.log.info({ path: this.path, status, stopReason, bytes, durationS: this.#diskMaxTs / 1000 }, 'recording closed');
  }
}
