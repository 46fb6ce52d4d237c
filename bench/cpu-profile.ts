/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, e.g. the gateway's under
 * BENCH_CPU_PROF=<dir> in bench/concurrent-calls.ts): self time per function
 * and per source file, top first, as Markdown.
 *
 *   npx tsx bench/cpu-profile.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  pct: number;
}

/** Where a frame's code lives, short: src/… or node_modules/<pkg>, node: internals, or (V8). */
function place(url: string): string {
  if (url === '') return '(V8)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm).split('/').slice(0, u.slice(nm).startsWith('node_modules/@') ? 3 : 2).join('/');
  const src = u.indexOf('/src/');
  if (src >= 0) return u.slice(src + 1);
  return u.startsWith('node:') ? u : path.basename(u);
}

/** The gateway's own code (sources or the build), as opposed to node internals and packages. */
const ours = (url: string): boolean => /\/(src|dist)\//.test(url) && !url.includes('node_modules');

/**
 * Self time by function and by file over the whole profile, and "charged":
 * every sample's time given to the nearest of our own functions on its stack
 * (what a Buffer allocation or a socket write inside node was done for).
 */
export function selfTimes(p: Profile): { functions: SelfTime[]; files: SelfTime[]; charged: SelfTime[]; totalMs: number; idleMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const charged = new Map<string, number>();
  const label = (f: ProfileNode['callFrame']): string => `${f.functionName || '(anonymous)'} ${place(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    totalMs += ms;
    if (f.functionName === '(idle)') idleMs += ms;
    const where = place(f.url);
    const key = label(f);
    fn.set(key, (fn.get(key) ?? 0) + ms);
    file.set(where, (file.get(where) ?? 0) + ms);
    let at: number | undefined = id;
    while (at !== undefined && !ours(byId.get(at)!.callFrame.url)) at = parent.get(at);
    const owner = at === undefined ? (f.functionName === '(idle)' ? '(idle)' : `(not ours) ${f.functionName || '(anonymous)'}`) : label(byId.get(at)!.callFrame);
    charged.set(owner, (charged.get(owner) ?? 0) + ms);
  }
  const busy = totalMs - idleMs;
  const list = (m: Map<string, number>): SelfTime[] => [...m]
    .filter(([k]) => !k.startsWith('(idle)'))
    .map(([name, ms]) => ({ name, ms, pct: (100 * ms) / busy }))
    .sort((a, b) => b.ms - a.ms);
  return { functions: list(fn), files: list(file), charged: list(charged), totalMs, idleMs };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  const top = Number(values.top);
  for (const f of positionals) {
    const s = selfTimes(JSON.parse(readFileSync(f, 'utf8')) as Profile);
    const busy = s.totalMs - s.idleMs;
    const table = (rows: SelfTime[]): string[] => rows.slice(0, top).map((r) => `| ${r.name.replace(/\|/g, '\\|')} | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`);
    process.stdout.write([
      `### ${path.basename(f)}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s busy (main thread)`,
      '', '| function (self time) | ms | % of busy |', '|---|---:|---:|', ...table(s.functions),
      '', '| file (self time) | ms | % of busy |', '|---|---:|---:|', ...table(s.files),
      '', '| our function (time charged: its own and what node did for it) | ms | % of busy |', '|---|---:|---:|', ...table(s.charged), '', '',
    ].join('\n'));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) main();
