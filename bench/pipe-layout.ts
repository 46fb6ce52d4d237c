/**
 * Which pipe layout costs least for G.711 → AAC through ffmpeg? Runs the same
 * 120 s of A-law through ffmpeg at full speed in three layouts, several times
 * each, interleaved, and reports user+system CPU seconds (bash `time`) and
 * peak RSS of ffmpeg:
 *   raw-adts:  raw A-law on stdin → ADTS on stdout (what the gateway uses)
 *   mkv-adts:  Matroska (A_MS/ACM pcm_alaw) on stdin → ADTS on stdout
 *   mkv-flv:   Matroska on stdin → FLV on stdout (the DESIGN §1 general layout)
 * Run: npx tsx bench/pipe-layout.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROUNDS = 5;
const dir = mkdtempSync(path.join(tmpdir(), 'pipe-layout-'));
const raw = path.join(dir, 'in.al');
const mkv = path.join(dir, 'in.mkv');
execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=8000:duration=120', '-ac', '1', '-f', 'alaw', '-y', raw]);
execFileSync('ffmpeg', ['-v', 'error', '-f', 'alaw', '-ar', '8000', '-ac', '1', '-i', raw, '-c:a', 'copy', '-y', mkv]);

const enc = ['-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '1'];
const layouts: Record<string, { input: string; args: string[] }> = {
  'raw-adts': { input: raw, args: ['-f', 'alaw', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', ...enc, '-f', 'adts', 'pipe:1'] },
  'mkv-adts': { input: mkv, args: ['-f', 'matroska', '-i', 'pipe:0', ...enc, '-f', 'adts', 'pipe:1'] },
  'mkv-flv': { input: mkv, args: ['-f', 'matroska', '-i', 'pipe:0', ...enc, '-f', 'flv', 'pipe:1'] },
};

function once(l: { input: string; args: string[] }): { cpuS: number; rssKb: number } {
  // GNU time is not always installed; bash's `time` gives user+sys, /proc gives the peak RSS via getrusage in `command`.
  const script = `TIMEFORMAT='%U %S'; { time ffmpeg -hide_banner -loglevel error ${l.args.map((a) => `'${a}'`).join(' ')} < '${l.input}' > /dev/null ; } 2>&1`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const [u, s] = r.stdout.trim().split(/\s+/).slice(-2).map(Number);
  const rss = spawnSync('python3', ['-c', `import resource,subprocess,sys
subprocess.run(['bash','-c',sys.argv[1]],stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)`, `ffmpeg -hide_banner -loglevel error ${l.args.map((a) => `'${a}'`).join(' ')} < '${l.input}' > /dev/null`], { encoding: 'utf8' });
  return { cpuS: (u ?? NaN) + (s ?? NaN), rssKb: Number(rss.stdout.trim()) };
}

const results: Record<string, { cpuS: number[]; rssKb: number[] }> = {};
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, l] of Object.entries(layouts)) {
    const r = once(l);
    (results[name] ??= { cpuS: [], rssKb: [] }).cpuS.push(r.cpuS);
    results[name].rssKb.push(r.rssKb);
  }
}
rmSync(dir, { recursive: true, force: true });

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
const base = median(results['raw-adts']?.cpuS ?? []);
const lines = [
  '| layout | CPU s per 120 s of audio (median of ' + ROUNDS + ') | vs raw-adts | peak RSS MB |',
  '|---|---|---|---|',
  ...Object.entries(results).map(([name, r]) =>
    `| ${name} | ${median(r.cpuS).toFixed(3)} | ${(median(r.cpuS) / base).toFixed(2)}× | ${(median(r.rssKb) / 1024).toFixed(1)} |`),
];
console.log(lines.join('\n'));
mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(path.join(import.meta.dirname, 'results', 'pipe-layout.md'), `${lines.join('\n')}\n`);
writeFileSync(path.join(import.meta.dirname, 'results', 'pipe-layout.json'), `${JSON.stringify({ rounds: ROUNDS, results }, null, 2)}\n`);
