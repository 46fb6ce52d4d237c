/**
 * MediaOutput with a fake FLV sink and fake timers (no process: H.264 and
 * G.711 copy need no transcoder): what a target receives and in what order.
 */
import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { MediaOutput } from '../../../src/call/media-output.js';
import { mediaClockNow } from '../../../src/rtp/media-clock.js';
import { silentLogger } from '../../../src/shared/logger.js';
import type { FlvHeaders, FlvSink } from '../../../src/pipeline/fanout.js';
import type { FlvTag } from '../../../src/pipeline/flv.js';

const SPS = Buffer.from('6742c00dd90141fb011000000300100000030320f142a480', 'hex'); // 320×240
const PPS = Buffer.from('68ce3c80', 'hex');
const IDR = Buffer.concat([Buffer.of(0x65), Buffer.alloc(200, 7)]);
const P = Buffer.concat([Buffer.of(0x41), Buffer.alloc(50, 3)]);
const AUD = Buffer.of(0x09, 0xf0);

class FakeSink implements FlvSink {
  headers: FlvHeaders = {};
  headerCalls = 0;
  readonly tags: FlvTag[] = [];
  setHeaders(h: FlvHeaders): void {
    this.headers = { ...h };
    this.headerCalls++;
  }
  write(tag: FlvTag): void {
    this.tags.push(tag);
  }
}

function output(opts: Partial<ConstructorParameters<typeof MediaOutput>[0]> = {}): MediaOutput {
  return new MediaOutput({
    log: silentLogger(), audioCodec: 'PCMA', audioClockRate: 8000, audioOutput: 'copy', hasVideo: true, videoCodec: 'H264',
    transcode: { audioBitrate: 64000, audioSampleRate: 48000 },
    ...opts,
  });
}

/** Feeds `ms` of media in real order: 25 fps H.264 (a keyframe first) and, unless `audio` is false, 20 ms PCMA frames. */
function feed(out: MediaOutput, ms: number, audio = true): void {
  const t0 = mediaClockNow();
  for (let t = 0; t < ms; t += 20) {
    if (t % 40 === 0) {
      const key = t === 0;
      out.onFrame({ kind: 'video', codec: 'H264', ptsMs: t0 + t, key, nalus: key ? [AUD, SPS, PPS, IDR] : [AUD, P] });
    }
    if (audio) out.onFrame({ kind: 'audio', codec: 'PCMA', ptsMs: t0 + t, clockRate: 8000, data: Buffer.alloc(160, 0xd5) });
    vi.advanceTimersByTime(20);
  }
}

const isNondecreasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x >= xs[i - 1]!);
const isIncreasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

describe('MediaOutput (fakes, fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
    // The media clock reads performance.now() (node:perf_hooks): let it follow the fake clock.
    vi.spyOn(performance, 'now').mockImplementation(() => Date.now());
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('gives a target metadata, then the AVC sequence header, then a keyframe first, G.711 copied, monotonic per track', async () => {
    const out = output();
    const sink = new FakeSink();
    out.addTarget(sink);
    expect(Object.keys(sink.headers)).toEqual(['metadata']);
    feed(out, 1000);
    await out.close();

    expect(sink.headers.video?.data.subarray(0, 2)).toEqual(Buffer.of(0x17, 0x00)); // keyframe, AVC sequence header
    expect(sink.headers.audio).toBeUndefined(); // G.711 in FLV has no sequence header
    const video = sink.tags.filter((t) => t.type === 'video');
    const audio = sink.tags.filter((t) => t.type === 'audio');
    expect(video.length).toBe(25);
    expect(video[0]!.data[0]).toBe(0x17);
    expect(video.slice(1).every((t) => t.data[0] === 0x27)).toBe(true);
    // Parameter sets travel in the sequence header, AUDs not at all: the keyframe's body holds the IDR alone.
    expect(video[0]!.data.readUInt32BE(5)).toBe(IDR.length);
    expect(video[0]!.data.length).toBe(5 + 4 + IDR.length);
    expect(audio.length).toBeGreaterThanOrEqual(49);
    expect(audio.every((t) => t.data[0]! >> 4 === 7)).toBe(true); // SoundFormat 7: G.711 A-law
    expect(isNondecreasing(video.map((t) => t.timestamp))).toBe(true);
    expect(isIncreasing(audio.map((t) => t.timestamp))).toBe(true);
    expect(video.at(-1)!.timestamp).toBe(960);
    expect(out.droppedBeforeConfig).toBe(0);
  });

  it('fills the audio track with G.711 silence while the far end sends none', async () => {
    const out = output();
    const sink = new FakeSink();
    out.addTarget(sink);
    feed(out, 2000, false);
    await out.close();
    const audio = sink.tags.filter((t) => t.type === 'audio');
    expect(audio.length).toBeGreaterThan(50);
    expect(audio.every((t) => t.data[0]! >> 4 === 7 && t.data.subarray(1).every((b) => b === 0xd5))).toBe(true);
    expect(isNondecreasing(audio.map((t) => t.timestamp))).toBe(true);
  });

  it('a target added later gets the current headers at once; video before the first parameter sets is dropped and counted', async () => {
    const out = output();
    const t0 = mediaClockNow();
    out.onFrame({ kind: 'video', codec: 'H264', ptsMs: t0, key: false, nalus: [P] });
    expect(out.droppedBeforeConfig).toBe(1);
    feed(out, 200);
    const late = new FakeSink();
    out.addTarget(late);
    expect(late.headerCalls).toBe(1);
    expect(late.headers.video?.data.subarray(0, 2)).toEqual(Buffer.of(0x17, 0x00));
    expect(late.headers.metadata).toBeDefined();
    await out.close();
  });

  it('close is idempotent, stops its timer and ignores later frames', async () => {
    const out = output();
    const sink = new FakeSink();
    out.addTarget(sink);
    feed(out, 100);
    await Promise.all([out.close(), out.close()]);
    expect(vi.getTimerCount()).toBe(0);
    const n = sink.tags.length;
    feed(out, 200);
    expect(sink.tags.length).toBe(n);
  });
});
