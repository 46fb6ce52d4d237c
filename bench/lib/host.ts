/**
 * Small I/O helpers of the concurrent-calls bench: process sampling that
 * survives a process exiting mid-window (a call that fails under load must
 * not abort the run — it is a result), nginx-rtmp byte counters per stream,
 * kernel UDP drop counters and host CPU.
 *
 * (bench/one-call.ts has its own udpDrops/hostCpu inside its script, which
 * runs on import, so they cannot be imported from there.)
 */
import { readFileSync } from 'node:fs';
import type { NginxRtmp } from '../../test/helpers/nginx.js';
import { readProc, summarize, type ProcReading, type ProcSummary } from './procstat.js';

/** What {@link sampleProcs} measured: a summary per process that lived through at least two samples. */
export interface Sampled {
  summaries: Map<number, ProcSummary>;
  /** Processes that exited during the window. */
  exited: number[];
}

/**
 * Samples CPU and RSS of `pids` every `intervalMs` for `seconds`
 * (bench/lib/procstat.ts readings); a process that exits is summarised over the
 * samples it had and listed in `exited`.
 */
export async function sampleProcs(pids: readonly number[], seconds: number, intervalMs = 1000): Promise<Sampled> {
  const series = new Map<number, ProcReading[]>(pids.map((p) => [p, []]));
  const gone = new Set<number>();
  const take = (): void => {
    for (const [pid, list] of series) {
      if (gone.has(pid)) continue;
      const r = readProc(pid);
      if (r) list.push(r);
      else gone.add(pid);
    }
  };
  const start = performance.now();
  take();
  for (let i = 1; i * intervalMs <= seconds * 1000; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    take();
  }
  const summaries = new Map<number, ProcSummary>();
  for (const [pid, list] of series) if (list.length >= 2) summaries.set(pid, summarize(pid, list));
  return { summaries, exited: [...gone] };
}

/** bytes_in per published stream name, from nginx's rtmp_stat. */
export async function nginxBytesIn(nginx: NginxRtmp): Promise<Map<string, number>> {
  const xml = await nginx.stat();
  const out = new Map<string, number>();
  for (const m of xml.matchAll(/<stream>\s*<name>([^<]*)<\/name>([\s\S]*?)<\/stream>/g)) {
    out.set(m[1] ?? '', Number(/<bytes_in>(\d+)<\/bytes_in>/.exec(m[2] ?? '')?.[1] ?? 0));
  }
  return out;
}

/**
 * Datagrams the kernel dropped on full receive buffers (the `drops` column of
 * /proc/net/udp) for sockets on 127.0.0.1 or 0.0.0.0 whose port `ports` accepts,
 * counted since each socket was opened.
 */
export function udpDrops(ports: (port: number) => boolean): number {
  let sum = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [ip, portHex] = (f[1] ?? '').split(':');
    const port = parseInt(portHex ?? '', 16);
    if ((ip === '0100007F' || ip === '00000000') && ports(port)) sum += Number(f[12] ?? 0);
  }
  return sum;
}

/** Host CPU counters from the `cpu` line of /proc/stat: [busy, total] jiffies over all cores. */
export function hostCpu(): [number, number] {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is already in user
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return [total - idle, total];
}

/** Busy percent of all cores between two {@link hostCpu} readings. */
export function hostBusyPct(a: [number, number], b: [number, number]): number {
  return b[1] > a[1] ? ((b[0] - a[0]) / (b[1] - a[1])) * 100 : 0;
}

/** POST a JSON body to the gateway's REST API; the answer's status and parsed body. */
export async function restPost(base: string, route: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/rest-api${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The live calls (find_all; 404 = none). */
export async function liveCalls(base: string): Promise<{ callId: string; status: string; rtmpStreamStatus: string; info: unknown }[]> {
  const r = await restPost(base, '/call/find_all', {});
  return r.status === 200 && Array.isArray(r.body) ? (r.body as { callId: string; status: string; rtmpStreamStatus: string; info: unknown }[]) : [];
}
