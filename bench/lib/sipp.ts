/**
 * SIPp for the bench: the same command line as the test harness's
 * `startSipp` (test/helpers/sipp.ts), but run in the bench's media folder so
 * the scenarios' relative `h264.pcap` / `pcma.al` are the bench's 1 Mbps
 * media rather than the test fixtures. Foreground, one call, stopped by PID.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnChild, stopChild } from '../../test/helpers/proc.js';
import { udpPortBound } from '../../test/helpers/sipp.js';
import { waitUntil } from '../../test/helpers/wait.js';

/** A running SIPp of the bench. */
export interface BenchSipp {
  pid: number;
  sipPort: number;
  /** Stops it (SIGTERM, then SIGKILL) and removes its log folder. Idempotent. */
  close(): Promise<void>;
  /** The error log and stderr, for failure messages. */
  errors(): string;
}

/** Options of {@link startBenchSipp}. */
export interface BenchSippOptions {
  /** Absolute path of the scenario. */
  scenario: string;
  /** Working directory: where `h264.pcap` and `pcma.al` are. */
  cwd: string;
  sipPort: number;
  /** `-mp`: audio from this port, video from +2 (use an even port with +1..+3 free). */
  mediaPort: number;
  /** `host:port` to call (UAC); absent for a UAS. */
  remote?: string;
  vars?: Record<string, string>;
  /** `-d` for the scenario's `<pause/>`. */
  durationMs?: number;
}

/** Starts SIPp and resolves once its SIP port is bound. */
export async function startBenchSipp(o: BenchSippOptions): Promise<BenchSipp> {
  const logs = mkdtempSync(path.join(tmpdir(), 'bench-sipp-'));
  const errFile = path.join(logs, 'errors.log');
  const args: string[] = [];
  if (o.remote) args.push(o.remote);
  args.push(
    '-sf', o.scenario,
    '-i', '127.0.0.1', '-mi', '127.0.0.1',
    '-p', String(o.sipPort), '-mp', String(o.mediaPort),
    '-t', 'u1', '-m', '1', '-nostdin', '-aa',
    '-timeout', '600s', '-timeout_error',
    '-trace_err', '-error_file', errFile,
  );
  if (o.durationMs !== undefined) args.push('-d', String(o.durationMs));
  for (const [k, v] of Object.entries(o.vars ?? {})) args.push('-set', k, v);
  const { child, exited } = spawnChild('sipp', args, { cwd: o.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 16 * 1024) stderr += d;
  });
  if (child.pid === undefined) throw new Error('sipp: spawn failed');
  let gone = false;
  void exited.then(() => (gone = true));
  let closed: Promise<void> | undefined;
  const errors = (): string => {
    let e = '';
    try {
      e = readFileSync(errFile, 'utf8');
    } catch {
      // none written
    }
    return `${e}${stderr}`;
  };
  const sipp: BenchSipp = {
    pid: child.pid,
    sipPort: o.sipPort,
    close() {
      closed ??= (async () => {
        await stopChild(child, exited, 3000);
        rmSync(logs, { recursive: true, force: true });
      })();
      return closed;
    },
    errors,
  };
  try {
    await waitUntil(() => {
      if (gone) throw new Error('sipp exited');
      return udpPortBound(o.sipPort);
    }, 10_000, 25, `sipp did not bind 127.0.0.1:${o.sipPort}`);
  } catch (err) {
    const why = `${(err as Error).message}\n${errors()}\nargv: sipp ${args.join(' ')}`;
    await sipp.close();
    throw new Error(why);
  }
  return sipp;
}
