/**
 * AAC encoders side by side (a script, not a test): what one call's audio
 * path (src/transcode/aac-engine.ts: G.711 decode, resample to 48 kHz,
 * encode AAC-LC mono 64 kbit/s) costs on this thread with each encoder
 * node-av's libavcodec has, on signals shaped like the ones calls carry.
 * Each run encodes `--seconds` of 20 ms A-law payloads; CPU is this
 * process's user + system time, the figure is % of one core per call.
 *
 *   npx tsx bench/aac-encoders.ts [--seconds 120] [--rounds 3] [--out bench/results]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AacEngine, hasAacEncoder, type AacEncoderName } from '../src/transcode/aac-engine.js';
import { encodeG711 } from '../src/transcode/g711.js';
import { ROOT, gitCommit } from './lib/run.js';

const { values: argv } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
  },
});
const seconds = Number(argv.seconds);
const rounds = Number(argv.rounds);
if (!(seconds > 0) || !(rounds >= 1)) throw new Error('bad arguments');

const RATE = 8000;
const PTIME_SAMPLES = 160;

/** A deterministic pseudo-random source (the same signal in every run). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** 8 kHz samples: a steady 440 Hz tone (the benchmarks' far ends), or speech-like bursts of shaped noise with pauses. */
function signal(kind: 'tone' | 'speech', n: number): Int16Array {
  const out = new Int16Array(n);
  const rnd = lcg(7);
  let lp = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    if (kind === 'tone') {
      out[i] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * t));
      continue;
    }
    // Syllables of ~200 ms at a 4 Hz rate, a pause of 0.6 s every 2 s; voiced (150 Hz harmonics) plus low-passed noise.
    const talking = t % 2 < 1.4 ? Math.max(0, Math.sin(2 * Math.PI * 4 * t)) : 0;
    lp = 0.7 * lp + 0.3 * rnd();
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * 150 * h * t) / h;
    out[i] = Math.round(talking * (3000 * v + 4000 * lp));
  }
  return out;
}

function payloads(kind: 'tone' | 'speech'): Buffer[] {
  const pcm = signal(kind, seconds * RATE);
  const out: Buffer[] = [];
  for (let o = 0; o + PTIME_SAMPLES <= pcm.length; o += PTIME_SAMPLES) out.push(encodeG711(pcm.subarray(o, o + PTIME_SAMPLES), 'PCMA'));
  return out;
}

function run(encoder: AacEncoderName, input: Buffer[]): { cpuMs: number; kbps: number } {
  const engine = new AacEngine({ inputCodec: 'PCMA', outputRate: 48000, bitrate: 64000, encoder });
  let bytes = 0;
  const t0 = process.cpuUsage();
  input.forEach((p, i) => {
    for (const o of engine.write(p, i * 20)) bytes += o.raw.length;
  });
  for (const o of engine.flush()) bytes += o.raw.length;
  const u = process.cpuUsage(t0);
  engine.free();
  return { cpuMs: (u.user + u.system) / 1000, kbps: (bytes * 8) / seconds / 1000 };
}

const encoders = (['aac', 'libfdk_aac'] as const).filter((e) => hasAacEncoder(e));
const rows: { signal: string; encoder: string; cpuMs: number[]; pctPerCall: number; kbps: number }[] = [];
for (const kind of ['tone', 'speech'] as const) {
  const input = payloads(kind);
  run(encoders[0] as AacEncoderName, input.slice(0, 500)); // warm-up
  for (const encoder of encoders) {
    const results = Array.from({ length: rounds }, () => run(encoder, input));
    const cpu = results.map((r) => r.cpuMs).sort((a, b) => a - b);
    const median = cpu[Math.floor(cpu.length / 2)] as number;
    rows.push({ signal: kind, encoder, cpuMs: cpu, pctPerCall: (median / (seconds * 1000)) * 100, kbps: (results[0] as { kbps: number }).kbps });
  }
}

const md = [
  `# AAC encoders (${new Date().toISOString()})`,
  '',
  `One call's audio path (A-law 20 ms → PCM → 48 kHz → AAC-LC mono 64 kbit/s) in \`AacEngine\`, ${seconds} s of input, median of ${rounds} runs, one thread. Code: ${await gitCommit()}. Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}.`,
  '',
  '| signal | encoder | CPU ms per run (min … max) | % of one core per call | kbit/s out |',
  '|---|---|---:|---:|---:|',
  ...rows.map((r) => `| ${r.signal} | ${r.encoder} | ${r.cpuMs.map((c) => c.toFixed(0)).join(' … ')} | **${r.pctPerCall.toFixed(2)}** | ${r.kbps.toFixed(1)} |`),
  '',
].join('\n');
const out = argv.out as string;
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, 'aac-encoders.json'), JSON.stringify({ date: new Date().toISOString(), commit: await gitCommit(), seconds, rounds, rows }, null, 2));
writeFileSync(path.join(out, 'aac-encoders.md'), md);
process.stdout.write(md);
