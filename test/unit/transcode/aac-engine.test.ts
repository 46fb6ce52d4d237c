/**
 * The AAC engine (libavcodec through node-av, synchronous): what comes out is
 * AAC that libavcodec's own decoder reads back as the tone that went in, on
 * the input's clock, with gaps filled or jumped like the ffmpeg path did; bad
 * payloads are counted, never thrown.
 */
import { beforeEach, describe, it, expect } from 'vitest';
import { Codec, CodecContext, Frame, Packet, Rational } from 'node-av/lib';
import {
  AV_CH_LAYOUT_MONO, AV_CHANNEL_ORDER_NATIVE, AV_CODEC_ID_AAC, AV_SAMPLE_FMT_S16, FF_ENCODER_ADPCM_G722, FF_ENCODER_LIBOPUS,
} from 'node-av/constants';
import { AacEngine, hasAacEncoder, type AacEncoderName } from '../../../src/transcode/aac-engine.js';
import { encodeG711 } from '../../../src/transcode/g711.js';
import type { AudioFrameCodec } from '../../../src/shared/index.js';

const RATE = 48000;

let aacEncoder: AacEncoderName = 'aac';

function encoder(inputCodec: AudioFrameCodec = 'PCMA'): AacEngine {
  return new AacEngine({ inputCodec, outputRate: RATE, bitrate: 64000, encoder: aacEncoder });
}

/** `ms` of a 1 kHz tone as 20 ms G.711 packets. */
function tone(ms: number, law: 'PCMA' | 'PCMU' = 'PCMA'): Buffer[] {
  const out: Buffer[] = [];
  for (let t = 0; t < ms; t += 20) {
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++) pcm[i] = Math.round(10000 * Math.sin((2 * Math.PI * 1000 * ((t / 1000) * 8000 + i)) / 8000));
    out.push(encodeG711(pcm, law));
  }
  return out;
}

/**
 * `ms` of a 1 kHz tone encoded by libavcodec (libopus at 48 kHz or G.722 at
 * 16 kHz), 20 ms per packet: what a far end sends.
 */
async function farEndPackets(codec: 'opus' | 'g722', ms: number): Promise<Buffer[]> {
  const rate = codec === 'opus' ? 48000 : 16000;
  const c = Codec.findEncoderByName(codec === 'opus' ? FF_ENCODER_LIBOPUS : FF_ENCODER_ADPCM_G722)!;
  const ctx = new CodecContext();
  ctx.allocContext3(c);
  const mono = { nbChannels: 1, order: AV_CHANNEL_ORDER_NATIVE, mask: AV_CH_LAYOUT_MONO };
  ctx.sampleRate = rate;
  ctx.sampleFormat = AV_SAMPLE_FMT_S16;
  ctx.channelLayout = mono;
  ctx.bitRate = 64000n;
  ctx.timeBase = new Rational(1, rate);
  expect(await ctx.open2(c, null)).toBe(0);
  const n = rate / 50;
  const out: Buffer[] = [];
  const pkt = new Packet();
  pkt.alloc();
  for (let k = 0; k <= ms / 20; k++) {
    const last = k === ms / 20;
    let frame: Frame | null = null;
    if (!last) {
      const pcm = Buffer.alloc(n * 2);
      for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(10000 * Math.sin((2 * Math.PI * 1000 * (k * n + i)) / rate)), i * 2);
      frame = Frame.fromAudioBuffer(pcm, { nbSamples: n, format: AV_SAMPLE_FMT_S16, sampleRate: rate, channelLayout: mono, timeBase: new Rational(1, rate) });
      frame.pts = BigInt(k * n);
    }
    await ctx.sendFrame(frame);
    frame?.free();
    while ((await ctx.receivePacket(pkt)) >= 0) {
      out.push(Buffer.from(pkt.data!));
      pkt.unref();
    }
  }
  pkt.free();
  ctx.freeContext();
  return out;
}

/** Feeds the engine through `write` calls, then flushes and frees it. */
function run(e: AacEngine, feed: (write: (data: Buffer, ptsMs: number) => void) => void): { asc: Buffer[]; frames: { raw: Buffer; pts: number }[] } {
  const frames: { raw: Buffer; pts: number }[] = [];
  const take = (outs: { raw: Buffer; ptsMs: number }[]): void => {
    for (const o of outs) frames.push({ raw: o.raw, pts: o.ptsMs });
  };
  feed((data, ptsMs) => take(e.write(data, ptsMs)));
  take(e.flush());
  e.free();
  return { asc: [e.asc], frames };
}

/** Decodes raw AAC frames back to float samples with libavcodec's decoder. */
async function decodeAac(asc: Buffer, frames: Buffer[]): Promise<Float32Array> {
  const codec = Codec.findDecoder(AV_CODEC_ID_AAC)!;
  const ctx = new CodecContext();
  ctx.allocContext3(codec);
  ctx.extraData = asc;
  expect(await ctx.open2(codec, null)).toBe(0);
  const pkt = new Packet();
  const frame = new Frame();
  frame.alloc();
  const parts: Float32Array[] = [];
  for (const raw of [...frames, null]) {
    if (raw) {
      pkt.alloc();
      pkt.data = raw;
    }
    await ctx.sendPacket(raw ? pkt : null);
    if (raw) pkt.unref();
    while ((await ctx.receiveFrame(frame)) >= 0) {
      const plane = frame.data![0]!;
      parts.push(new Float32Array(plane.buffer.slice(plane.byteOffset, plane.byteOffset + frame.nbSamples * 4)));
      frame.unref();
    }
  }
  frame.free();
  pkt.free();
  ctx.freeContext();
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

const crossingsPerSecond = (s: Float32Array): number => {
  let n = 0;
  for (let i = 1; i < s.length; i++) if ((s[i - 1]! < 0) !== (s[i]! < 0)) n++;
  return (n * RATE) / s.length;
};

const rms = (s: Float32Array): number => Math.sqrt(s.reduce((a, x) => a + x * x, 0) / s.length);

it("node-av's libavcodec has both AAC encoders (auto picks libfdk_aac)", () => {
  expect(hasAacEncoder('aac')).toBe(true);
  expect(hasAacEncoder('libfdk_aac')).toBe(true);
});

describe.each(['aac', 'libfdk_aac'] as const)('AacEngine with %s (in-process audio → AAC)', (name) => {
  beforeEach(() => {
    aacEncoder = name;
  });

  it('2 s of a 1 kHz A-law tone → AAC-LC 48 kHz mono frames on the input clock that decode back to the tone', async () => {
    const packets = tone(2000);
    const { asc, frames } = run(encoder(), (w) => packets.forEach((p, i) => w(p, 5000 + i * 20)));
    expect(asc).toEqual([Buffer.of(0x11, 0x88)]);
    expect(frames.length).toBe(Math.ceil((2 * RATE) / 1024));
    expect(frames[0]!.pts).toBe(5000);
    // Raw access units, never ADTS-framed (FLV carries raw AAC; HLS adds its own ADTS header).
    expect(frames.filter((f) => f.raw[0] === 0xff && (f.raw[1]! & 0xf0) === 0xf0)).toEqual([]);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.pts - frames[i - 1]!.pts).toBeCloseTo(1024_000 / RATE, 6);
    const pcm = await decodeAac(asc[0]!, frames.map((f) => f.raw));
    const middle = pcm.subarray(RATE / 2, RATE + RATE / 2);
    expect(crossingsPerSecond(middle)).toBeGreaterThan(1900);
    expect(crossingsPerSecond(middle)).toBeLessThan(2100);
    expect(rms(middle)).toBeGreaterThan(0.1);
  });

  it('a 400 ms gap is filled with silence (the clock stays continuous); a 10 s gap becomes a jump', async () => {
    const a = tone(1000, 'PCMU');
    const { frames } = run(encoder('PCMU'), (w) => {
      a.forEach((p, i) => w(p, i * 20));
      a.forEach((p, i) => w(p, 1400 + i * 20));
    });
    // 2.4 s of timeline, no jump.
    expect(frames.length).toBe(Math.ceil((2.4 * RATE) / 1024));
    expect(frames.at(-1)!.pts).toBeCloseTo(((frames.length - 1) * 1024_000) / RATE, 6);

    const { frames: jumped } = run(encoder('PCMU'), (w) => {
      a.forEach((p, i) => w(p, i * 20));
      a.forEach((p, i) => w(p, 11_000 + i * 20));
    });
    const steps = jumped.slice(1).map((f, i) => f.pts - jumped[i]!.pts);
    expect(steps.filter((s) => s > 100)).toHaveLength(1);
    expect(Math.max(...steps)).toBeGreaterThan(10_000);
    expect(jumped.length).toBe(Math.ceil((2 * RATE) / 1024));
  });

  it("G.711's idle pattern (±8 of 32768) is encoded as digital silence", async () => {
    const idle = Buffer.alloc(160, 0xd5);
    const { asc, frames } = run(encoder(), (w) => {
      for (let i = 0; i < 50; i++) w(idle, i * 20);
    });
    const pcm = await decodeAac(asc[0]!, frames.map((f) => f.raw));
    expect(pcm.length).toBeGreaterThan(40_000);
    expect(pcm.every((x) => x === 0)).toBe(true);
  });

  it('late and duplicate packets are trimmed, never played twice', async () => {
    const a = tone(1000);
    const { frames } = run(encoder(), (w) => a.forEach((p, i) => {
      w(p, i * 20);
      if (i % 5 === 0) w(p, i * 20);
    }));
    expect(frames.length).toBe(Math.ceil(RATE / 1024));
  });

  it.each([
    ['OPUS', 'opus'],
    ['G722', 'g722'],
  ] as const)('%s from a far end → AAC that decodes back to the tone', async (codec, name) => {
    const packets = await farEndPackets(name, 2000);
    expect(packets.length).toBeGreaterThanOrEqual(99);
    const e = encoder(codec);
    const { asc, frames } = run(e, (w) => packets.forEach((p, i) => w(p, i * 20)));
    expect(e.decodeErrors).toBe(0);
    expect(frames.length).toBeGreaterThanOrEqual(Math.floor((1.9 * RATE) / 1024));
    const pcm = await decodeAac(asc[0]!, frames.map((f) => f.raw));
    const middle = pcm.subarray(RATE / 2, RATE + RATE / 2);
    expect(crossingsPerSecond(middle)).toBeGreaterThan(1900);
    expect(crossingsPerSecond(middle)).toBeLessThan(2100);
    expect(rms(middle)).toBeGreaterThan(0.1);
  });

  it('garbage among Opus payloads is counted and dropped; the real ones still come out', async () => {
    const packets = await farEndPackets('opus', 1000);
    const e = encoder('OPUS');
    const { frames } = run(e, (w) => packets.forEach((p, i) => {
      // Invalid TOC/frame-count codes: a packet libavcodec's Opus parser refuses.
      if (i % 10 === 5) w(Buffer.of(0xff, 0xff), i * 20);
      else w(p, i * 20);
    }));
    expect(e.decodeErrors).toBe(5);
    // The refused packets' time is filled with silence: the clock stays whole.
    expect(frames.length).toBe(Math.ceil((packets.length * 20 * RATE) / 1000 / 1024));
  });
});
