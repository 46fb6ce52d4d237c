/**
 * Leak checks for child processes: every test stops what it spawned, by PID.
 * Reads /proc/<pid>/task/<tid>/children (Linux >= 3.5).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { waitUntil } from './wait.js';

/** A direct child of a process. */
export interface ChildInfo {
  pid: number;
  /** /proc state letter: R, S, D, Z (zombie), ... */
  state: string;
  cmdline: string;
}

function read(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Direct children of `pid` (default: this process), with their state and command line. */
export function childProcesses(pid: number = process.pid): ChildInfo[] {
  const pids = new Set<number>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tids) {
    for (const c of read(`/proc/${pid}/task/${tid}/children`).split(/\s+/)) if (c) pids.add(Number(c));
  }
  return [...pids].map((p) => {
    const stat = read(`/proc/${p}/stat`);
    // The state follows the parenthesised command name, which may hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 1)[0] ?? '?';
    const cmdline = read(`/proc/${p}/cmdline`).split('\0').filter(Boolean).join(' ');
    return { pid: p, state, cmdline };
  });
}

/**
 * Throws listing the children of this process still alive after waiting up
 * to `timeoutMs` for them to go (zombies count: they were not reaped).
 */
export async function assertNoChildProcesses(timeoutMs = 3000): Promise<void> {
  try {
    await waitUntil(() => childProcesses().length === 0, timeoutMs, 50);
  } catch {
    const left = childProcesses();
    if (left.length === 0) return;
    const lines = left.map((c) => `  pid ${c.pid} [${c.state}] ${c.cmdline}`).join('\n');
    throw new Error(`child processes left running:\n${lines}`);
  }
}
