import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { AudioTranscoder, type AudioTranscoderOptions } from '../../../src/transcode/audio-transcoder.js';
import { encodeG711 } from '../../../src/transcode/g711.js';
import { silentLogger } from '../../../src/shared/logger.js';

const opts: AudioTranscoderOptions = {
  ffmpegPath: 'ffmpeg', inputCodec: 'PCMA', inputRate: 8000, outputRate: 48000, bitrate: 64000, log: silentLogger(),
};
const FRAME_MS = 1024 / 48;

/** `ms` of a tone (or silence when freq is 0) as 20 ms A-law packets. */
function tonePackets(ms: number, freq = 440, law: 'PCMA' | 'PCMU' = 'PCMA'): Buffer[] {
  const n = (ms * 8000) / 1000;
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(12000 * Math.sin((2 * Math.PI * freq * i) / 8000));
  const all = encodeG711(pcm, law);
  const out: Buffer[] = [];
  for (let o = 0; o < all.length; o += 160) out.push(all.subarray(o, o + 160));
  return out;
}

interface Run {
  asc: Buffer[];
  frames: { raw: Buffer; pts: number }[];
  exits: [number | null, string | null, boolean][];
}

function collect(t: AudioTranscoder): Run {
  const r: Run = { asc: [], frames: [], exits: [] };
  t.on('config', (asc) => r.asc.push(asc));
  t.on('frame', (raw, pts) => r.frames.push({ raw, pts }));
  t.on('exit', (code, signal, crashed) => r.exits.push([code, signal, crashed]));
  return r;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Rebuilds ADTS around raw frames and decodes them with ffmpeg to 48 kHz s16. */
function decode(frames: readonly Buffer[]): Int16Array {
  const parts: Buffer[] = [];
  for (const raw of frames) {
    const len = raw.length + 7;
    parts.push(Buffer.from([0xff, 0xf1, 0x4c, 0x40 | (len >> 11), (len >> 3) & 0xff, ((len & 7) << 5) | 0x1f, 0xfc]), raw);
  }
  const pcm = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'aac', '-i', 'pipe:0', '-f', 's16le', '-'], {
    input: Buffer.concat(parts),
  });
  return new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
}

describe('AudioTranscoder', () => {
  it('turns 3 s of A-law into ~140 AAC-LC 48 kHz mono frames with 21.33 ms pts steps, and leaves no process', async () => {
    const t = new AudioTranscoder(opts);
    const r = collect(t);
    t.start();
    const pid = t.pid as number;
    expect(pid).toBeGreaterThan(0);
    tonePackets(3000).forEach((p, i) => t.write(p, 1000 + i * 20));
    await t.close();
    expect(r.asc.map((a) => a.toString('hex'))).toEqual(['1188']); // AAC-LC, 48 kHz, mono
    expect(r.frames.length).toBeGreaterThanOrEqual(138);
    expect(r.frames.length).toBeLessThanOrEqual(143);
    expect(r.frames[0]?.pts).toBe(1000);
    for (let i = 1; i < r.frames.length; i++) {
      expect((r.frames[i]?.pts ?? 0) - (r.frames[i - 1]?.pts ?? 0)).toBeCloseTo(FRAME_MS, 6);
    }
    expect(r.exits).toHaveLength(1);
    expect(r.exits[0]?.[2]).toBe(false);
    expect(alive(pid)).toBe(false);
    expect(t.pid === undefined || !alive(t.pid)).toBe(true);
  });

  it('puts a tone onset at its input time (priming accounted for, within 5 ms)', async () => {
    const t = new AudioTranscoder(opts);
    const r = collect(t);
    t.start();
    [...tonePackets(500, 0), ...tonePackets(1000)].forEach((p, i) => t.write(p, 200 + i * 20));
    await t.close();
    const pcm = decode(r.frames.map((f) => f.raw));
    const onset = pcm.findIndex((v) => Math.abs(v) > 1500);
    const onsetMs = (r.frames[0]?.pts ?? 0) + onset / 48;
    expect(Math.abs(onsetMs - 700)).toBeLessThan(5);
  });

  it('fills gaps with silence, trims overlaps, and jumps over long gaps', async () => {
    const t = new AudioTranscoder(opts);
    const r = collect(t);
    t.start();
    const pk = tonePackets(1000);
    pk.forEach((p, i) => t.write(p, i * 20)); // 0..1000 ms
    pk.forEach((p, i) => t.write(p, i * 20)); // duplicate: trimmed away entirely
    pk.forEach((p, i) => t.write(p, 2000 + i * 20)); // 1 s gap: silence
    pk.forEach((p, i) => t.write(p, 13000 + i * 20)); // 10 s gap: pts jump, no silence
    await t.close();
    // 4 s of input were encoded (1 + 1 silence + 1 + 1), not 14 s.
    const encodedMs = r.frames.length * FRAME_MS;
    expect(encodedMs).toBeGreaterThan(3900);
    expect(encodedMs).toBeLessThan(4150);
    const steps = r.frames.slice(1).map((f, i) => f.pts - (r.frames[i]?.pts ?? 0));
    const jumps = steps.filter((s) => Math.abs(s - FRAME_MS) > 1e-6);
    expect(jumps).toHaveLength(1);
    expect(jumps[0]).toBeCloseTo(FRAME_MS + 10_000, 6);
    const last = r.frames[r.frames.length - 1]?.pts ?? 0;
    expect(last).toBeGreaterThan(13_900);
    expect(last).toBeLessThan(14_100);
  });

  it('reports a crash (killed ffmpeg) without throwing on later writes', async () => {
    const t = new AudioTranscoder({ ...opts, inputCodec: 'PCMU' });
    const r = collect(t);
    t.start();
    const pkts = tonePackets(200, 440, 'PCMU');
    pkts.forEach((p, i) => t.write(p, i * 20));
    process.kill(t.pid as number, 'SIGKILL');
    await new Promise<void>((resolve) => t.once('exit', () => resolve()));
    expect(r.exits).toEqual([[null, 'SIGKILL', true]]);
    for (let i = 0; i < 50; i++) t.write(pkts[0] as Buffer, 1000 + i * 20);
    await t.close();
    expect(r.exits).toHaveLength(1);
  });

  it('reports an ffmpeg that cannot start, or dies at once, as crashed', async () => {
    const missing = new AudioTranscoder({ ...opts, ffmpegPath: '/nonexistent/ffmpeg' });
    const r1 = collect(missing);
    missing.start();
    await new Promise<void>((resolve) => missing.once('exit', () => resolve()));
    expect(r1.exits[0]?.[2]).toBe(true);
    missing.write(Buffer.alloc(160), 0);
    await missing.close();

    const dies = new AudioTranscoder({ ...opts, ffmpegPath: 'false' });
    const r2 = collect(dies);
    dies.start();
    dies.write(Buffer.alloc(160), 0);
    await new Promise<void>((resolve) => dies.once('exit', () => resolve()));
    expect(r2.exits).toEqual([[1, null, true]]);
    for (let i = 0; i < 10; i++) dies.write(Buffer.alloc(160), i * 20);
    await dies.close();
  });

  it('close() before start() and twice is harmless', async () => {
    const t = new AudioTranscoder(opts);
    await t.close();
    await t.close();
    expect(t.state).toBe('exited');
  });
});
