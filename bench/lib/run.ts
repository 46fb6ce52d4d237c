/**
 * What every benchmark entry point shares: the repository root, a work
 * directory, processes started with their output in a log file (and stopped by
 * their own PID by the caller), the gateway command line (the production build), log tails for
 * diagnostics, and polling with a diagnostic on timeout.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/helpers/proc.js';
import { waitUntil } from '../../test/helpers/wait.js';

/** The repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A child process, its exit, and the file its stdout and stderr go to. */
export interface LoggedChild {
  child: ChildProcess;
  exited: Promise<number | null>;
  log: string;
}

/** Spawns `cmd args` in `cwd` (default: the repository root) with stdout and stderr appended to `dir/logName`. */
export function spawnLogged(dir: string, cmd: string, args: readonly string[], logName: string, cwd = ROOT): LoggedChild {
  const log = path.join(dir, logName);
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  if (child.pid === undefined) throw new Error(`${cmd}: spawn failed`);
  return { child, exited, log };
}

let built = false;

/**
 * node's arguments to run the gateway as users do, compiled (`npm run build`
 * → dist/main.js, built once per bench run), with `configFile`; node itself is
 * the child, so its PID is the gateway's.
 */
export function gatewayArgs(configFile: string): string[] {
  if (!built && !process.env.BENCH_NO_BUILD) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    built = true;
  }
  // BENCH_NO_BUILD=1: run dist/ as it is (a build patched for a measurement). BENCH_CPU_PROF=<dir>: the gateway's main thread writes a V8 CPU profile there when it exits (bench/cpu-profile.ts reads it).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  // BENCH_NODE_FLAGS: more node flags for the gateway (e.g. --perf-basic-prof for `perf record`).
  const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');
  return [...prof, ...flags, path.join(ROOT, 'dist', 'main.js'), '--config', configFile];
}

/**
 * How long a fresh gateway is left alone before its idle baseline is taken:
 * start-up work (module loading, JIT, the embedded server's start, the
 * generated media made on a codec worker) still uses 4–19 % of a core 5–10 s
 * after start and ~1 % from 15 s on (measured); a baseline taken earlier
 * would flatter every per-call figure computed against it.
 */
export const STARTUP_SETTLE_MS = 15_000;

/** The last 3000 characters of a log file ('' when unreadable). */
export function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
}

/** waitUntil polling every 100 ms, with diagnostics read when it fails (not when it starts). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, diag: () => string = () => ''): Promise<NonNullable<T>> {
  try {
    return await waitUntil(fn, timeoutMs, 100, what);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${diag()}`);
  }
}

/** Something a benchmark started and must stop (by its own PID), newest first. */
export type Closer = () => Promise<void>;

/**
 * Runs a benchmark's `main`; afterwards, on failure (exit code 1) or on
 * Ctrl-C (130), every closer runs, newest first, each failure only logged.
 */
export function runBench(main: () => Promise<void>, closers: Closer[]): void {
  const cleanup = async (): Promise<void> => {
    for (let c = closers.pop(); c !== undefined; c = closers.pop()) {
      await c().catch((e: unknown) => process.stderr.write(`cleanup: ${(e as Error).message}\n`));
    }
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  main().then(cleanup, async (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    await cleanup();
    process.exitCode = 1;
  });
}

/** The short commit id of the code measured ('?' outside a git checkout). */
export async function gitCommit(): Promise<string> {
  return (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).catch(() => null))?.stdout.trim() || '?';
}
