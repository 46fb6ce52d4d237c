/**
 * Test media for the RTMP tests: real H.264 (Annex-B split into access units)
 * and AAC (ADTS split into raw frames), made by ffmpeg on the fly.
 */
import { execFile } from 'node:child_process';
import { splitAdts, parseAdtsHeader, audioSpecificConfig } from '../../src/pipeline/aac.js';

export function runBuffer(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message} ${stderr.toString().slice(-500)}`));
      else resolve(stdout);
    });
  });
}

/** Splits an Annex-B byte stream at 3- and 4-byte start codes. */
export function splitAnnexB(b: Buffer): Buffer[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 3 <= b.length; i++) {
    if (b[i] === 0 && b[i + 1] === 0) {
      if (b[i + 2] === 1) {
        starts.push({ at: i, len: 3 });
        i += 2;
      } else if (b[i + 2] === 0 && b[i + 3] === 1) {
        starts.push({ at: i, len: 4 });
        i += 3;
      }
    }
  }
  const out: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k]!;
    const end = k + 1 < starts.length ? starts[k + 1]!.at : b.length;
    out.push(b.subarray(s.at + s.len, end));
  }
  return out;
}

export interface AccessUnit {
  nalus: Buffer[];
  key: boolean;
}

export interface TestMedia {
  sps: Buffer;
  pps: Buffer;
  /** 25 fps, no B-frames: frame i has timestamp i * 40 ms. */
  video: AccessUnit[];
  asc: Buffer;
  /** 48 kHz AAC-LC mono: frame i has timestamp i * 1024 / 48 ms. */
  audio: Buffer[];
}

export async function makeTestMedia(seconds = 3): Promise<TestMedia> {
  const h264 = await runBuffer('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', String(seconds),
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0', '-g', '25',
    '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', '-',
  ]);
  const adts = await runBuffer('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds),
    '-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '1', '-f', 'adts', '-',
  ]);
  let sps: Buffer | undefined;
  let pps: Buffer | undefined;
  const video: AccessUnit[] = [];
  let pending: Buffer[] = [];
  for (const n of splitAnnexB(h264)) {
    const type = (n[0] as number) & 0x1f;
    if (type === 7) sps ??= Buffer.from(n);
    else if (type === 8) pps ??= Buffer.from(n);
    if (type === 7 || type === 8 || type === 9) continue; // parameter sets go in the sequence header
    pending.push(n);
    if (type === 1 || type === 5) {
      // libx264 writes one slice per frame here: a VCL NAL ends the access unit.
      video.push({ nalus: pending, key: type === 5 });
      pending = [];
    }
  }
  if (!sps || !pps) throw new Error('no SPS/PPS in ffmpeg output');
  const first = parseAdtsHeader(adts);
  return {
    sps,
    pps,
    video,
    asc: audioSpecificConfig(first),
    audio: splitAdts(adts).map((f) => Buffer.from(f.raw)),
  };
}
