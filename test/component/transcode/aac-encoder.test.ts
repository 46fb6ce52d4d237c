/**
 * AacEncoder: a call's handle on its AAC engine running on a codec worker
 * thread. Every packet written comes back as AAC on the input clock, in
 * order; the queue bound drops (and counts) a flood; close() flushes.
 */
import { describe, it, expect } from 'vitest';
import { AacEncoder, MAX_QUEUE } from '../../../src/transcode/aac-encoder.js';
import { CodecPool } from '../../../src/transcode/codec-pool.js';
import { encodeG711 } from '../../../src/transcode/g711.js';
import { silentLogger } from '../../../src/shared/logger.js';

const RATE = 48000;

function tonePacket(k: number): Buffer {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(10000 * Math.sin((2 * Math.PI * 1000 * (k * 160 + i)) / 8000));
  return encodeG711(pcm, 'PCMA');
}

describe('AacEncoder (codec worker thread)', () => {
  it('2 s of A-law written in 20 ms steps come back as AAC frames on the input clock, then exit on close', async () => {
    const pool = new CodecPool(1);
    const e = new AacEncoder({ inputCodec: 'PCMA', outputRate: RATE, bitrate: 64000, log: silentLogger(), pool });
    const frames: { raw: Buffer; pts: number }[] = [];
    const asc: Buffer[] = [];
    const exits: boolean[] = [];
    e.on('config', (b) => asc.push(b));
    e.on('frame', (raw, pts) => frames.push({ raw, pts }));
    e.on('exit', (_c, _s, crashed) => exits.push(crashed));
    e.start();
    for (let k = 0; k < 100; k++) {
      e.write(tonePacket(k), 1000 + k * 20);
      if (k % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    await e.close();
    await e.close();
    expect(asc).toEqual([Buffer.of(0x11, 0x88)]);
    expect(exits).toEqual([false]);
    expect(e.dropped).toBe(0);
    expect(frames.length).toBe(Math.ceil((2 * RATE) / 1024));
    expect(frames[0]!.pts).toBe(1000);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.pts - frames[i - 1]!.pts).toBeCloseTo(1024_000 / RATE, 6);
    // Not digital silence: AAC frames of a tone carry hundreds of bytes at 64 kbit/s.
    expect(frames.slice(5, -5).every((f) => f.raw.length > 100)).toBe(true);
    await pool.terminate();
  });

  it('a flood past the queue bound is dropped and counted; the rest is encoded', async () => {
    const pool = new CodecPool(1);
    const e = new AacEncoder({ inputCodec: 'PCMU', outputRate: RATE, bitrate: 64000, log: silentLogger(), pool });
    let frames = 0;
    e.on('frame', () => frames++);
    e.start();
    for (let k = 0; k < 1000; k++) e.write(tonePacket(k), k * 20);
    expect(e.dropped).toBe(1000 - MAX_QUEUE);
    await e.close();
    expect(frames).toBe(Math.ceil((MAX_QUEUE * 160 * 6) / 1024));
    await pool.terminate();
  });

  it('an engine that cannot open fails alone: another call on the same worker keeps encoding', async () => {
    const pool = new CodecPool(1);
    const bad = new AacEncoder({ inputCodec: 'PCMA', outputRate: 12345, bitrate: 64000, log: silentLogger(), pool });
    const good = new AacEncoder({ inputCodec: 'PCMA', outputRate: RATE, bitrate: 64000, log: silentLogger(), pool });
    const exits: boolean[] = [];
    let frames = 0;
    bad.on('exit', (_c, _s, crashed) => exits.push(crashed));
    good.on('frame', () => frames++);
    bad.start();
    good.start();
    for (let k = 0; k < 50; k++) {
      bad.write(tonePacket(k), k * 20);
      good.write(tonePacket(k), k * 20);
    }
    await expect.poll(() => exits).toEqual([true]);
    await bad.close();
    await good.close();
    expect(frames).toBe(Math.ceil((50 * 160 * 6) / 1024));
    await pool.terminate();
  });

  it('a worker that dies fails its encoders (crashed exit) without throwing; close() still resolves', async () => {
    const pool = new CodecPool(1);
    const e = new AacEncoder({ inputCodec: 'PCMA', outputRate: RATE, bitrate: 64000, log: silentLogger(), pool });
    const exits: boolean[] = [];
    e.on('exit', (_c, _s, crashed) => exits.push(crashed));
    e.start();
    e.write(tonePacket(0), 0);
    await pool.terminate();
    await expect.poll(() => exits).toEqual([true]);
    e.write(tonePacket(1), 20);
    await e.close();
  });
});
