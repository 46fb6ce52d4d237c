/**
 * CPU and memory of one process from /proc (Linux), sampled by the bench.
 *
 * CPU: utime + stime (fields 14 and 15 of /proc/<pid>/stat, in clock ticks,
 * proc(5)) of the process itself — not of its children, which are measured
 * on their own. Memory: VmRSS of /proc/<pid>/status (resident set, kB).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know). */
export const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

function read(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** One reading of a process. */
export interface ProcReading {
  /** utime + stime in clock ticks. */
  ticks: number;
  /** VmRSS in kB. */
  rssKb: number;
  /** Monotonic time of the reading, ms. */
  atMs: number;
}

/** Reads CPU ticks and RSS of `pid`; null once the process is gone. */
export function readProc(pid: number): ProcReading | null {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return null;
  // Fields after the parenthesised command name (which may hold spaces):
  // index 0 is field 3 (state), so utime (14) is 11 and stime (15) is 12.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(read(`/proc/${pid}/status`));
  return { ticks, rssKb: m ? Number(m[1]) : 0, atMs: performance.now() };
}

/** Direct children of `pid` whose command name (comm) is `comm`. */
export function childrenNamed(pid: number, comm: string): number[] {
  const out = new Set<number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tids) {
    for (const c of read(`/proc/${pid}/task/${tid}/children`).split(/\s+/)) {
      if (c && read(`/proc/${c}/comm`).trim() === comm) out.add(Number(c));
    }
  }
  return [...out];
}

/** Summary of one process over a window. */
export interface ProcSummary {
  pid: number;
  /** Mean CPU over the window, percent of one core. */
  cpuPct: number;
  /** Per-slice CPU (percent of one core), one per sampling interval. */
  cpuSlicesPct: number[];
  /** Standard deviation of the slices. */
  cpuSdPct: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  seconds: number;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** Summarises consecutive readings of one process. Pure. */
export function summarize(pid: number, readings: readonly ProcReading[]): ProcSummary {
  const first = readings[0];
  const last = readings[readings.length - 1];
  if (!first || !last || readings.length < 2) throw new Error(`pid ${pid}: fewer than two readings`);
  const pct = (a: ProcReading, b: ProcReading): number => ((b.ticks - a.ticks) / CLK_TCK / ((b.atMs - a.atMs) / 1000)) * 100;
  const slices: number[] = [];
  for (let i = 1; i < readings.length; i++) slices.push(pct(readings[i - 1]!, readings[i]!));
  const rss = readings.map((r) => r.rssKb / 1024);
  return {
    pid,
    cpuPct: pct(first, last),
    cpuSlicesPct: slices,
    cpuSdPct: sd(slices),
    rssMeanMiB: mean(rss),
    rssMaxMiB: Math.max(...rss),
    seconds: (last.atMs - first.atMs) / 1000,
  };
}

/**
 * Samples the processes `pids()` names every `intervalMs` for `seconds`.
 * The set is read once at the start (a process appearing later is not
 * measured); a process that exits mid-window fails the run.
 */
export async function measure(pids: readonly number[], seconds: number, intervalMs = 1000): Promise<Map<number, ProcSummary>> {
  const series = new Map<number, ProcReading[]>(pids.map((p) => [p, []]));
  const take = (): void => {
    for (const [pid, list] of series) {
      const r = readProc(pid);
      if (!r) throw new Error(`pid ${pid} exited during the measurement`);
      list.push(r);
    }
  };
  const start = performance.now();
  take();
  for (let i = 1; i * intervalMs <= seconds * 1000; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    take();
  }
  return new Map([...series].map(([pid, list]) => [pid, summarize(pid, list)]));
}
