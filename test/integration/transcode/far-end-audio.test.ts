import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { AacEncoder } from '../../../src/transcode/aac-encoder.js';
import { MatroskaWriter, vintSize } from '../../helpers/matroska.js';
import { oggPackets } from '../../helpers/containers.js';
import { audioTrackFor } from '../../helpers/matroska-audio.js';
import { silentLogger } from '../../../src/shared/logger.js';

/** 20 ms RTP payloads of `ms` of a 440 Hz tone in the codec, as a far end would send them. */
function packets(codec: 'OPUS' | 'G722' | 'SPEEX', ms: number): Buffer[] {
  const src = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=f=440:d=${ms / 1000}`];
  if (codec === 'G722') {
    const raw = execFileSync('ffmpeg', [...src, '-ar', '16000', '-c:a', 'g722', '-f', 'g722', '-']);
    const out: Buffer[] = [];
    for (let i = 0; i < raw.length; i += 160) out.push(raw.subarray(i, i + 160));
    return out;
  }
  const enc = codec === 'OPUS'
    ? ['-ar', '48000', '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip']
    : ['-ar', '16000', '-c:a', 'libspeex', '-frames_per_packet', '1'];
  return oggPackets(execFileSync('ffmpeg', [...src, ...enc, '-f', 'ogg', '-'])).slice(2);
}

/** Dominant frequency by zero crossings of decoded AAC (rebuilt as ADTS). */
function decodeHz(frames: readonly Buffer[]): { hz: number; rms: number } {
  const parts: Buffer[] = [];
  for (const raw of frames) {
    const len = raw.length + 7;
    parts.push(Buffer.from([0xff, 0xf1, 0x4c, 0x40 | (len >> 11), (len >> 3) & 0xff, ((len & 7) << 5) | 0x1f, 0xfc]), raw);
  }
  const pcm = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'aac', '-i', 'pipe:0', '-f', 's16le', '-'], { input: Buffer.concat(parts) });
  const s = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length));
  let zc = 0;
  let sq = 0;
  for (let i = 1; i < s.length; i++) {
    if ((s[i - 1]! < 0) !== (s[i]! < 0)) zc++;
    sq += s[i]! * s[i]!;
  }
  return { hz: zc / 2 / (s.length / 48000), rms: Math.sqrt(sq / s.length) };
}

describe('MatroskaWriter', () => {
  it('encodes EBML sizes', () => {
    expect(vintSize(0).toString('hex')).toBe('80');
    expect(vintSize(126).toString('hex')).toBe('fe');
    expect(vintSize(127).toString('hex')).toBe('407f');
    expect(vintSize(16382).toString('hex')).toBe('7ffe');
    expect(vintSize(16383).toString('hex')).toBe('203fff');
  });

  it('writes a stream ffprobe reads with every block at its time, across cluster boundaries', () => {
    const w = new MatroskaWriter(audioTrackFor('G722', 8000));
    const pk = packets('G722', 1000);
    const times = pk.map((_, i) => (i < 25 ? i * 20 : 40_000 + i * 20)); // a jump past the int16 range
    const file = Buffer.concat([w.header(), ...pk.map((p, i) => w.block(p, times[i]!, true))]);
    const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_packets', '-of', 'json', '-f', 'matroska', '-'], { input: file, encoding: 'utf8' })) as { packets: { pts: number }[] };
    expect(out.packets.map((p) => p.pts)).toEqual(times);
  });
});

/** Far-end packets made by ffmpeg (libopus, g722, libspeex), through the in-process encoder on its codec worker. */
describe('AacEncoder with real far-end packets', () => {
  for (const codec of ['OPUS', 'G722', 'SPEEX'] as const) {
    it(`${codec}: 3 s with a 200 ms hole → AAC 48 kHz, ~141 frames (the hole padded), the tone intact`, async () => {
      const t = new AacEncoder({ inputCodec: codec, outputRate: 48000, bitrate: 64000, log: silentLogger() });
      const frames: { raw: Buffer; pts: number }[] = [];
      let firstOutAt = 0;
      t.on('frame', (raw, pts) => {
        firstOutAt ||= performance.now();
        frames.push({ raw, pts });
      });
      t.start();
      // Opus adds one packet for the encoder's pre-skip.
      const pk = packets(codec, 3000).slice(0, 150);
      expect(pk.length).toBe(150);
      const t0 = performance.now();
      pk.forEach((p, i) => {
        if (i < 60 || i >= 70) t.write(p, 1000 + i * 20);
      });
      await t.close();
      expect(frames[0]?.pts).toBe(1000);
      expect(frames.length).toBeGreaterThanOrEqual(138);
      expect(frames.length).toBeLessThanOrEqual(143);
      for (let i = 1; i < frames.length; i++) expect(frames[i]!.pts - frames[i - 1]!.pts).toBeCloseTo(1024 / 48, 6);
      const { hz, rms } = decodeHz(frames.map((f) => f.raw));
      expect(hz).toBeGreaterThan(380);
      expect(hz).toBeLessThan(470);
      expect(rms).toBeGreaterThan(1000);
      expect(firstOutAt - t0).toBeLessThan(5000); // generous: the suite runs many processes at once
    });
  }

  it('a gap over 5 s becomes a pts jump, not minutes of silence', async () => {
    const t = new AacEncoder({ inputCodec: 'G722', outputRate: 48000, bitrate: 64000, log: silentLogger() });
    const frames: number[] = [];
    t.on('frame', (_raw, pts) => frames.push(pts));
    t.start();
    const pk = packets('G722', 2000);
    pk.forEach((p, i) => t.write(p, i < 50 ? i * 20 : 60_000 + i * 20));
    await t.close();
    expect(frames.length).toBeLessThan(100);
    const jump = frames.findIndex((p, i) => i > 0 && p - frames[i - 1]! > 1000);
    expect(jump).toBeGreaterThan(40);
    expect(frames.at(-1)).toBeGreaterThan(60_900);
    expect(frames.at(-1)).toBeLessThan(62_100);
  });
});
