/**
 * CallRecorder on real files, judged by ffprobe: real H.264 + AAC (from
 * ffmpeg) fed as the call's FLV tags, starting mid-GOP with a non-zero
 * timestamp base; the name rules; and the guard paths that stop a recording
 * (free space, size cap, slow disk, a failing write, an unwritable tag)
 * while leaving a playable file. The real ENOSPC path needs a small tmpfs and
 * lives with the integration tests; here ENOSPC is injected into FileHandle.
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { mkdtemp, open, readFile, rm, stat, statfs, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CallRecorder, recordingName, type CallRecorderOptions, type RecordingStopReason } from '../../../src/call/recorder.js';
import {
  FlvDemuxer, aacFrame, aacSequenceHeader, avcFrame, avcSequenceHeader, decodeAmf0, onMetaData, type FlvTag,
} from '../../../src/pipeline/index.js';
import { ConflictError, ValidationError } from '../../../src/shared/errors.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { probeStream } from '../../helpers/ffprobe.js';
import { makeTestMedia, type TestMedia } from '../../helpers/test-media.js';

const log = silentLogger();
/** Source timestamps start here: the file's must start at 0. */
const BASE = 5000;
let media: TestMedia;
let root: string;
let n = 0;

beforeAll(async () => {
  media = await makeTestMedia(4);
  root = await mkdtemp(path.join(tmpdir(), 'recorder-'));
}, 60_000);

afterAll(async () => {
  if (!process.env.KEEP) await rm(root, { recursive: true, force: true });
});

function options(o: Partial<CallRecorderOptions> = {}): CallRecorderOptions {
  return { dir: root, name: `rec${++n}`, hasAudio: true, hasVideo: true, minFreeBytes: 0, maxFileBytes: 0, log, ...o };
}

/** The call's tags in timestamp order from video frame `fromFrame` (25 fps, GOP 25), audio from the same time. */
function callTags(fromFrame: number, opts: { video?: boolean } = {}): FlvTag[] {
  const out: FlvTag[] = [];
  const from = fromFrame * 40;
  if (opts.video !== false) {
    media.video.forEach((au, i) => { if (i >= fromFrame) out.push(avcFrame(au.nalus, au.key, 0, BASE + i * 40)); });
  }
  media.audio.forEach((raw, i) => {
    const ts = Math.round((i * 1024) / 48);
    if (ts >= from) out.push(aacFrame(raw, BASE + ts));
  });
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

function feed(r: CallRecorder, tags: readonly FlvTag[], video = true): void {
  r.setHeaders({
    metadata: onMetaData({ width: 320, height: 240, videocodecid: 7, audiocodecid: 10 }),
    ...(video ? { video: avcSequenceHeader(media.sps, media.pps) } : {}),
    audio: aacSequenceHeader(media.asc),
  });
  for (const t of tags) r.write(t);
}

/** The file's tags and its onMetaData values. */
async function readFlv(file: string): Promise<{ tags: FlvTag[]; meta: Map<string, unknown>; size: number; hasVideo: boolean }> {
  const bytes = await readFile(file);
  const d = new FlvDemuxer();
  const tags = d.push(bytes);
  expect(tags[0]?.type).toBe('script');
  const [name, meta] = decodeAmf0(tags[0]!.data);
  expect(name).toBe('onMetaData');
  return { tags, meta: meta as Map<string, unknown>, size: bytes.length, hasVideo: d.hasVideo };
}

function stoppedWith(r: CallRecorder): Promise<RecordingStopReason> {
  return new Promise((resolve) => r.once('stopped', resolve));
}

describe('CallRecorder', () => {
  it('records H.264 + AAC from the first keyframe, timestamps from 0, with duration and filesize patched', async () => {
    const r = await CallRecorder.open(options());
    expect(path.isAbsolute(r.path)).toBe(true);
    expect(r.status).toBe('RECORDING');
    // Frames 10..24 and their audio come before the first keyframe (frame 25) and are not recorded.
    const tags = callTags(10);
    feed(r, tags);
    await r.close();
    await r.close(); // idempotent
    r.write(tags.at(-1)!); // ignored after close
    expect(r.status).toBe('COMPLETED');
    expect(r.stopReason).toBeUndefined();

    const { tags: inFile, meta, size } = await readFlv(r.path);
    expect(size).toBe(r.bytes);
    expect((await stat(r.path)).size).toBe(size);
    expect(meta.get('filesize')).toBe(size);
    const [, vHead, aHead, first] = inFile;
    expect(vHead).toMatchObject({ type: 'video', timestamp: 0 });
    expect(aHead).toMatchObject({ type: 'audio', timestamp: 0 });
    expect(first).toMatchObject({ type: 'video', key: true, timestamp: 0 });
    const fedSpan = (tags.at(-1)!.timestamp - (BASE + 25 * 40)) / 1000;
    const lastTs = Math.max(...inFile.map((t) => t.timestamp)) / 1000;
    expect(meta.get('duration')).toBe(lastTs);
    expect(Math.abs(lastTs - fedSpan)).toBeLessThan(0.2);

    const p = await probeStream(r.path);
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', width: 320, height: 240, startsWithKeyframe: true });
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 1 });
    expect(p.video!.pts[0]).toBeCloseTo(0, 2);
    expect(Math.abs(p.durationS - fedSpan)).toBeLessThan(0.2);
  });

  it('audio-only: writes from the first tag', async () => {
    const r = await CallRecorder.open(options({ hasVideo: false }));
    const tags = callTags(0, { video: false });
    feed(r, tags, false);
    await r.close();
    const { tags: inFile, hasVideo } = await readFlv(r.path);
    expect(hasVideo).toBe(false);
    expect(inFile[2]).toMatchObject({ type: 'audio', timestamp: 0 });
    const p = await probeStream(r.path);
    expect(p.errors).toEqual([]);
    expect(p.video).toBeNull();
    expect(p.audio?.codec).toBe('aac');
    expect(Math.abs(p.durationS - (tags.at(-1)!.timestamp - BASE) / 1000)).toBeLessThan(0.2);
  });

  it('recordingName is safe, bounded, sortable by time and accepted by open', async () => {
    const at = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    expect(recordingName('live/room 1', 'abc.def@x', at)).toBe('live_room_1_20240102-030405_abc_def_x');
    const long = recordingName('s', 'c'.repeat(300), at);
    expect(long).toBe(`s_20240102-030405_${'c'.repeat(64)}`);
    const huge = recordingName('../'.repeat(100), '', at);
    expect(huge).toMatch(/^[A-Za-z0-9_-]{1,200}$/);
    expect(huge.endsWith('_call')).toBe(true);
    const later = recordingName('s', 'a', new Date(Date.UTC(2024, 0, 2, 3, 4, 6)));
    expect([later, recordingName('s', 'z', at)].sort()[0]).toBe(recordingName('s', 'z', at));
    const r = await CallRecorder.open(options({ name: recordingName('.hidden/stream', 'id', at) }));
    expect(path.basename(r.path)).toBe('_hidden_stream_20240102-030405_id.flv');
    await r.close();
  });

  it('refuses bad names and an existing file, and creates the directory 0750', async () => {
    for (const name of ['', '.x', '..', 'a/b', '../x', 'a b', 'é', 'x'.repeat(201)]) {
      await expect(CallRecorder.open(options({ name }))).rejects.toBeInstanceOf(ValidationError);
    }
    const dir = path.join(root, 'new', 'sub');
    const r = await CallRecorder.open(options({ dir, name: 'taken' }));
    expect((await stat(dir)).mode & 0o777).toBe(0o750);
    await r.close();
    await writeFile(path.join(root, 'other.flv'), 'keep');
    await expect(CallRecorder.open(options({ dir, name: 'taken' }))).rejects.toBeInstanceOf(ConflictError);
    await expect(CallRecorder.open(options({ name: 'other' }))).rejects.toBeInstanceOf(ConflictError);
    expect(await readFile(path.join(root, 'other.flv'), 'utf8')).toBe('keep');
  });

  it('stops with DISK_FULL at open when free space is below minFreeBytes, leaving a valid FLV', async () => {
    const s = await statfs(root);
    const r = await CallRecorder.open(options({ minFreeBytes: s.bavail * s.bsize * 2 + 1e12 }));
    expect(r.status).toBe('STOPPED');
    expect(r.stopReason).toBe('DISK_FULL');
    feed(r, callTags(0)); // ignored, no throw
    await r.close();
    const { tags, meta, size } = await readFlv(r.path);
    expect(tags).toHaveLength(1);
    expect(meta.get('duration')).toBe(0);
    expect(meta.get('filesize')).toBe(size);
    // (ffprobe refuses a file with no stream at all, so the demuxer is the judge here.)
  });

  it('the periodic free-space check stops the recording once the disk fills past minFreeBytes', async () => {
    const s = await statfs(root);
    const margin = 32 * 1024 * 1024;
    const r = await CallRecorder.open(options({ minFreeBytes: s.bavail * s.bsize - margin, checkIntervalMs: 50 }));
    expect(r.status).toBe('RECORDING');
    const stopped = stoppedWith(r);
    feed(r, callTags(0).slice(0, 120));
    await writeFile(path.join(root, 'filler'), Buffer.alloc(3 * margin, 1));
    try {
      expect(await stopped).toBe('DISK_FULL');
      await r.close();
    } finally {
      await rm(path.join(root, 'filler'));
    }
    expect(r.status).toBe('STOPPED');
    const p = await probeStream(r.path);
    expect(p.errors).toEqual([]);
    expect(p.video?.startsWithKeyframe).toBe(true);
  });

  it('stops with MAX_SIZE under the cap, with a playable file', async () => {
    const cap = 120_000;
    const r = await CallRecorder.open(options({ maxFileBytes: cap }));
    const stopped = stoppedWith(r);
    feed(r, callTags(0));
    expect(await stopped).toBe('MAX_SIZE');
    await r.close();
    expect(r.status).toBe('STOPPED');
    const { tags, meta, size } = await readFlv(r.path);
    expect(size).toBeLessThanOrEqual(cap);
    expect(size).toBeGreaterThan(cap - 20_000);
    expect(meta.get('filesize')).toBe(size);
    expect(meta.get('duration')).toBe(Math.max(...tags.map((t) => t.timestamp)) / 1000);
    const p = await probeStream(r.path);
    expect(p.errors).toEqual([]);
    expect(p.video).toMatchObject({ codec: 'h264', startsWithKeyframe: true });
    expect(p.audio?.codec).toBe('aac');
  });

  it('stops with SLOW_DISK when the queue passes maxPendingBytes, keeping what reached the disk', async () => {
    const r = await CallRecorder.open(options({ maxPendingBytes: 64 * 1024 }));
    const stopped = stoppedWith(r);
    feed(r, callTags(0)); // synchronous: the disk cannot keep up
    expect(await stopped).toBe('SLOW_DISK');
    await r.close();
    const { tags, meta, size } = await readFlv(r.path);
    expect(size).toBe(r.bytes);
    expect(meta.get('filesize')).toBe(size);
    expect(tags[3]).toMatchObject({ type: 'video', key: true, timestamp: 0 });
    expect((await probeStream(r.path)).errors).toEqual([]);
  });

  it('a tag that cannot be written stops the recording (WRITE_ERROR) without throwing to the caller', async () => {
    const r = await CallRecorder.open(options());
    const tags = callTags(0).slice(0, 100);
    feed(r, tags);
    expect(() => r.write({ type: 'video', timestamp: BASE + 4000, data: Buffer.alloc(16 * 1024 * 1024), key: false })).not.toThrow();
    expect(r.stopReason).toBe('WRITE_ERROR');
    await r.close();
    const p = await probeStream(r.path);
    expect(p.errors).toEqual([]);
    expect(p.video?.startsWithKeyframe).toBe(true);
  });

  it('a write failing half-way with ENOSPC is cut back to the last whole tag: STOPPED DISK_FULL, still playable', async () => {
    const probe = await open(path.join(root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const realWritev = proto.writev;
    const r = await CallRecorder.open(options());
    const stopped = stoppedWith(r);
    const tags = callTags(0);
    feed(r, tags.slice(0, 1)); // headers + the first keyframe: the first batch, written for real
    let calls = 0;
    const spy = vi.spyOn(proto, 'writev').mockImplementation(async function (this: FileHandle, bufs, position) {
      if (++calls > 1) return realWritev.call(this, bufs, position);
      await realWritev.call(this, [Buffer.concat(bufs as Buffer[]).subarray(0, 100)], position);
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const good = r.bytes;
      feed(r, tags.slice(1, 50));
      expect(await stopped).toBe('DISK_FULL');
      await r.close();
      expect(calls).toBe(1);
      expect(r.bytes).toBe(good);
    } finally {
      spy.mockRestore();
    }
    const { tags: inFile, size, meta } = await readFlv(r.path);
    expect(size).toBe(r.bytes);
    expect(meta.get('filesize')).toBe(size);
    expect(inFile.map((t) => t.type)).toEqual(['script', 'video', 'audio', 'video']);
    const p = await probeStream(r.path);
    expect(p.errors).toEqual([]);
    expect(p.video?.frames).toBe(1);
  });
});
