import { describe, it, expect } from 'vitest';
import {
  CODECS, AUDIO_CODEC_NAMES, VIDEO_CODEC_NAMES, STATIC_PAYLOAD_TYPES, AUDIO_FRAME_CODECS, codecByEncoding,
} from '../../../src/shared/codecs.js';

describe('codec table', () => {
  it('names every configured codec once, with its kind, and distinct offer payload types', () => {
    expect(Object.keys(CODECS).sort()).toEqual([...AUDIO_CODEC_NAMES, ...VIDEO_CODEC_NAMES].sort());
    for (const n of AUDIO_CODEC_NAMES) expect(CODECS[n].kind).toBe('audio');
    for (const n of VIDEO_CODEC_NAMES) expect(CODECS[n].kind).toBe('video');
    const pts = Object.values(CODECS).map((c) => c.offerPt).filter((p) => p !== null);
    expect(new Set(pts).size).toBe(pts.length);
    // Dynamic video payload types are numbered from 96 by the offer: the audio ones must stay clear of 96–97.
    expect(pts.filter((p) => p === 96 || p === 97)).toEqual([]);
  });

  it('matches RFC 3551 static payload types and rtpmap names', () => {
    for (const [pt, name] of Object.entries(STATIC_PAYLOAD_TYPES)) expect(CODECS[name].offerPt).toBe(Number(pt));
    expect(codecByEncoding('pcmu')).toBe('pcmu');
    expect(codecByEncoding('SPEEX', 16000)).toBe('speex16');
    expect(codecByEncoding('speex', 8000)).toBeUndefined();
    expect(codecByEncoding('h264', 90000)).toBe('h264');
    expect(codecByEncoding('G729')).toBeUndefined();
  });

  it('frames name the media codecs; FLV carries H.264 and G.711 as they are, not VP8, Opus or G.722', () => {
    expect([...AUDIO_FRAME_CODECS].sort()).toEqual(['G722', 'OPUS', 'PCMA', 'PCMU', 'SPEEX']);
    expect(CODECS['telephone-event'].frame).toBeNull();
    expect([CODECS.h264.flvCopy, CODECS.pcma.flvCopy, CODECS.pcmu.flvCopy]).toEqual([true, true, true]);
    expect([CODECS.vp8.flvCopy, CODECS.opus.flvCopy, CODECS.g722.flvCopy]).toEqual([false, false, false]);
  });
});
