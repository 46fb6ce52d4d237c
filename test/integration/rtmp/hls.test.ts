import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signStreamPath, verifyStreamSign } from '../../../src/rtmp/index.js';
import {
  HlsStream, HlsStore, TsMuxer, TS_PACKET_SIZE, adtsHeader, crc32Mpeg2, flvAvcToAnnexB, parseAacSequenceHeader, parseAvcSequenceHeader, avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, g711Frame, type FlvTag,
} from '../../../src/pipeline/index.js';
import { ParseError } from '../../../src/shared/errors.js';
import { FlvFanout } from '../../../src/pipeline/fanout.js';
import { makeTestMedia, runBuffer, type TestMedia } from '../../helpers/test-media.js';

let media: TestMedia;
let dir: string;

beforeAll(async () => {
  media = await makeTestMedia(7);
  dir = mkdtempSync(path.join(tmpdir(), 'hls-unit-'));
}, 60_000);

afterAll(() => { if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); });

/** The call's tags in timestamp order: 25 fps video (GOP 1 s), 48 kHz AAC. */
function tags(m: TestMedia, opts: { video?: boolean; audio?: boolean } = {}): FlvTag[] {
  const out: FlvTag[] = [];
  if (opts.video !== false) m.video.forEach((au, i) => out.push(avcFrame(au.nalus, au.key, 0, i * 40)));
  if (opts.audio !== false) m.audio.forEach((raw, i) => out.push(aacFrame(raw, Math.round((i * 1024) / 48))));
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

async function probe(file: string): Promise<{ streams: { codec_name: string; codec_type: string }[]; frames: { media_type: string; key_frame: number }[]; stderr: string }> {
  const out = await runBuffer('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type:frame=media_type,key_frame', '-of', 'json', file]);
  return { ...(JSON.parse(out.toString()) as { streams: never[]; frames: never[] }), stderr: '' };
}

describe('MPEG-TS muxing (hls-ts)', () => {
  it('CRC-32/MPEG-2 matches the reference check value', () => {
    expect(crc32Mpeg2(Buffer.from('123456789'))).toBe(0x0376e6e7);
  });

  it('PAT/PMT are single packets with valid CRCs; PES output is whole 188-byte packets with running continuity counters', () => {
    const mux = new TsMuxer({ video: true, audio: true });
    const t = mux.tables();
    expect(t.length).toBe(2 * TS_PACKET_SIZE);
    for (let p = 0; p < 2; p++) {
      const pkt = t.subarray(p * 188, p * 188 + 188);
      expect(pkt[0]).toBe(0x47);
      const len = pkt.readUInt16BE(6) & 0x0fff;
      const section = pkt.subarray(5, 5 + 3 + len);
      expect(crc32Mpeg2(section)).toBe(0); // CRC over section including its CRC is 0
    }
    const big = mux.video(Buffer.alloc(1000, 1), 0, 0, true);
    expect(big.length % TS_PACKET_SIZE).toBe(0);
    const ccs: number[] = [];
    for (let o = 0; o < big.length; o += 188) ccs.push((big[o + 3] as number) & 0x0f);
    expect(ccs).toEqual(ccs.map((_, i) => i & 0x0f));
    // The first packet carries an adaptation field with PCR and random access.
    expect(big[3]! >> 4).toBe(3);
    expect(big[5]! & 0x50).toBe(0x50);
    const small = mux.audio(Buffer.alloc(10, 2), 20);
    expect(small.length).toBe(188);
  });

  it('parses FLV sequence headers and converts AVCC to Annex-B with AUD and parameter sets on keyframes', () => {
    const cfg = parseAvcSequenceHeader(avcSequenceHeader(media.sps, media.pps).data);
    expect(cfg).toMatchObject({ lengthSize: 4 });
    expect(cfg.sps[0]?.equals(media.sps)).toBe(true);
    const key = media.video[0]!;
    const { au } = flvAvcToAnnexB(avcFrame(key.nalus, true).data, cfg, true);
    expect(au.subarray(0, 6)).toEqual(Buffer.of(0, 0, 0, 1, 9, 0xf0));
    expect(au.indexOf(media.sps)).toBeGreaterThan(0);
    const aac = parseAacSequenceHeader(aacSequenceHeader(media.asc).data);
    expect(aac).toMatchObject({ sampleRate: 48000, channels: 1, objectType: 2 });
    expect(parseAacSequenceHeader(g711Frame(Buffer.alloc(160), 'PCMA').data)).toBeNull();
    const h = adtsHeader(aac!, 100);
    expect(h.length).toBe(7);
    expect(((h[3]! & 3) << 11) | (h[4]! << 3) | (h[5]! >> 5)).toBe(107);
    expect(() => parseAvcSequenceHeader(Buffer.alloc(4))).toThrow(ParseError);
    expect(() => flvAvcToAnnexB(Buffer.of(0x17, 1, 0, 0, 0, 0, 0, 0, 9), cfg, false)).toThrow(ParseError);
  });
});

describe('HlsStream', () => {
  it('cuts ~2 s segments on keyframes that ffprobe decodes (H.264 + AAC), with a live window', async () => {
    const s = new HlsStream('unit', { segmentMs: 2000, listSize: 2 });
    expect(s.playlist()).toBeNull();
    // Audio config first, video config a moment later (as from a call).
    // The whole set at once (setHeaders replaces it).
    s.setHeaders({ audio: aacSequenceHeader(media.asc), video: avcSequenceHeader(media.sps, media.pps) });
    for (const t of tags(media)) s.write(t);
    const pl = s.playlist() as string;
    expect(pl).toMatch(/^#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n/);
    const durations = [...pl.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Number(m[1]));
    expect(durations).toEqual([2, 2]);
    expect(pl).toContain('1.ts\n');
    expect(pl).toContain('2.ts\n');
    expect(s.segments.map((x) => x.seq)).toEqual([0, 1, 2]);
    expect(s.badTags).toBe(0);
    const file = path.join(dir, 'seg1.ts');
    writeFileSync(file, s.segment(1) as Buffer);
    const p = await probe(file);
    expect(p.streams.map((x) => `${x.codec_type}:${x.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    const video = p.frames.filter((f) => f.media_type === 'video');
    expect(video.length).toBe(50);
    expect(video[0]?.key_frame).toBe(1);
    expect(p.frames.filter((f) => f.media_type === 'audio').length).toBeGreaterThan(90);
    expect(s.playlist('?sign=x')).toContain('1.ts?sign=x');
    s.close();
    expect(s.playlist()).toBeNull();
  }, 30_000);

  it('audio-only: starts after a segment of audio alone and cuts on time', async () => {
    const s = new HlsStream('a', { segmentMs: 2000 });
    s.setHeaders({ audio: aacSequenceHeader(media.asc) });
    for (const t of tags(media, { video: false })) s.write(t);
    expect(s.segments.length).toBe(2);
    const file = path.join(dir, 'audio.ts');
    writeFileSync(file, s.segment(0) as Buffer);
    const p = await probe(file);
    expect(p.streams.map((x) => x.codec_name)).toEqual(['aac']);
    expect(p.frames.length).toBeGreaterThan(90);
  }, 30_000);

  it('waits for a keyframe; a segment past its byte bound closes early and the next is a discontinuity', () => {
    const s = new HlsStream('b', { segmentMs: 2000, maxSegmentBytes: 65536 });
    s.setHeaders({ video: avcSequenceHeader(media.sps, media.pps) });
    const v = tags(media, { audio: false });
    for (const t of v.slice(1, 25)) s.write(t); // no keyframe yet: nothing
    expect(s.segments.length).toBe(0);
    for (const t of v.slice(25)) s.write(t);
    expect(s.segments.length).toBeGreaterThan(0);
    expect(s.segments.every((x) => x.data.length <= 65536 + 64 * 1024)).toBe(true);
    expect(s.playlist()).toContain('#EXT-X-DISCONTINUITY\n');
  });

  it('joins a fan-out as a plain sink: headers and the cached GOP at once, then every tag', () => {
    const fan = new FlvFanout();
    fan.setHeaders({ video: avcSequenceHeader(media.sps, media.pps), audio: aacSequenceHeader(media.asc) });
    const all = tags(media);
    const before = all.filter((t) => t.timestamp < 1500);
    for (const t of before) fan.write(t);
    const s = new HlsStream('late', { segmentMs: 1000 });
    fan.addSink(s);
    for (const t of all.slice(before.length)) fan.write(t);
    // It started on the cached keyframe at 1 s (five 1 s segments up to 6 s), not at the next one at 2 s.
    expect(s.segments.map((x) => x.durationMs)).toEqual([1000, 1000, 1000, 1000, 1000]);
    fan.removeSink(s);
    const n = s.segments.length;
    for (const t of all) fan.write({ ...t, timestamp: t.timestamp + 10_000 });
    expect(s.segments.length).toBe(n);
  });

  it('HlsStore: create replaces, remove only removes the current one', () => {
    const store = new HlsStore();
    const a = store.create('x');
    const b = store.create('x');
    store.remove(a);
    expect(store.get('x')).toBe(b);
    store.remove(b);
    expect(store.size).toBe(0);
  });
});

describe('signed stream URLs (node-media-server format)', () => {
  it('signs and verifies; expired, wrong path or wrong secret fail', () => {
    const sign = signStreamPath('/live/s1', 'secret-secret-secret', 2000);
    expect(sign).toMatch(/^2000-[0-9a-f]{32}$/);
    expect(verifyStreamSign('/live/s1', sign, 'secret-secret-secret', 1999)).toBe(true);
    expect(verifyStreamSign('/live/s1', sign, 'secret-secret-secret', 2001)).toBe(false);
    expect(verifyStreamSign('/live/s2', sign, 'secret-secret-secret', 1999)).toBe(false);
    expect(verifyStreamSign('/live/s1', sign, 'other-secret-secret', 1999)).toBe(false);
    expect(verifyStreamSign('/live/s1', undefined, 'secret-secret-secret', 1999)).toBe(false);
    expect(verifyStreamSign('/live/s1', 'garbage', 'secret-secret-secret', 1999)).toBe(false);
  });
});
