/**
 * SIPp as a real far end (or a test caller). One SIPp process per call
 * (`-m 1`), on 127.0.0.1 only, run in the foreground so we keep its PID and
 * stop exactly that process. It runs with the generated fixtures folder as
 * its working directory: scenarios name `h264.pcap` / `pcma.al` relatively
 * (pcap paths in a scenario cannot hold variables).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generatedDir, sippScenarioDir } from '../fixtures/make-media.js';
import { spawnChild, stopChild } from './proc.js';
import { waitUntil } from './wait.js';
import { freeUdpPort, freeUdpPortRange } from './ports.js';

/** Options of {@link startSipp}. */
export interface SippOptions {
  /** File name in `test/fixtures/sipp/` (e.g. `uas-answer.xml`) or an absolute path. */
  scenario: string;
  /** Local SIP port (UDP) on 127.0.0.1. */
  sipPort: number;
  /**
   * Local media port (`-mp`): `[media_port]` in the SDP, audio is sent from it
   * and video from `mediaPort + 2`. Use an even port with +1..+3 free
   * (see `freeUdpPortRange(4)`).
   */
  mediaPort: number;
  /** `host:port` to call; given for a UAC scenario, absent for a UAS. */
  remote?: string;
  /** `-set name value` for variables the scenario declares in `<Global>`. */
  vars?: Record<string, string>;
  /** Digest credentials: `-au`/`-ap`, and for a UAS also `-set auth_user`/`auth_pass` (uas-auth.xml). */
  authUser?: string;
  authPassword?: string;
  /** `-d`: length of `<pause/>` without milliseconds (uas-bye.xml: when to hang up). */
  durationMs?: number;
  /** `-s`: user part of the Request-URI a UAC calls. Default `service`. */
  service?: string;
  /** `-m`: SIPp exits after this many calls. Default 1. */
  calls?: number;
  /** `-timeout` in seconds: SIPp quits after that whatever happens. Default 600. */
  timeoutS?: number;
  /** Answer in-dialog INFO/OPTIONS/UPDATE/NOTIFY the scenario does not expect (`-aa`). Default true. */
  autoAnswer?: boolean;
  /** Transport: `u1` (UDP, default) or `t1` (TCP, one connection). */
  transport?: 'u1' | 't1';
  extraArgs?: readonly string[];
}

/** One SIP message from SIPp's `-trace_msg` log. */
export interface SippMessage {
  direction: 'sent' | 'received';
  /** Request line or status line. */
  firstLine: string;
  /** Request method, or the method of the CSeq for a response. */
  method: string;
  /** Status code for a response, null for a request. */
  status: number | null;
  text: string;
}

/** A running SIPp. */
export interface SippProcess {
  pid: number;
  sipPort: number;
  mediaPort: number;
  /** Resolves with SIPp's exit code: 0 all calls succeeded, 1 a call failed, 255 fatal; null if killed. */
  exited: Promise<number | null>;
  /** Stops this process (SIGTERM, then SIGKILL) and removes its temp folder. Idempotent. */
  close(): Promise<void>;
  /** Raw contents of the `-trace_msg` file so far. */
  messages(): string;
  /** Parsed `-trace_msg` contents. */
  sipMessages(): SippMessage[];
  /** The `-trace_logs` file: lines of the scenarios' `<log>` actions (INFO bodies, auth results). */
  logs(): string;
  /** The `-trace_err` file plus stderr: why a call failed. */
  errors(): string;
  /** The command line, for failure messages. */
  readonly argv: readonly string[];
}

function readOr(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Splits a `-trace_msg` log into messages. */
export function parseSippMessages(log: string): SippMessage[] {
  const out: SippMessage[] = [];
  const chunks = log.split(/^-{20,} .*$/m);
  for (const chunk of chunks) {
    const m = /^\s*\S+ message (sent|received)[^\n]*\n\n?([\s\S]*)$/.exec(chunk);
    if (!m) continue;
    const text = (m[2] ?? '').replace(/\s+$/, '');
    const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
    const statusMatch = /^SIP\/2\.0 (\d{3})/.exec(firstLine);
    const cseq = /^CSeq:\s*\d+\s+(\S+)/im.exec(text);
    out.push({
      direction: m[1] === 'sent' ? 'sent' : 'received',
      firstLine,
      method: statusMatch ? (cseq?.[1] ?? '') : (firstLine.split(' ', 1)[0] ?? ''),
      status: statusMatch ? Number(statusMatch[1]) : null,
      text,
    });
  }
  return out;
}

/** True when something is bound to UDP `port` on 127.0.0.1 (reads /proc/net/udp). */
export function udpPortBound(port: number): boolean {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const any = `00000000:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const table = readOr('/proc/net/udp');
  return table.split('\n').some((l) => {
    const local = l.trim().split(/\s+/)[1];
    return local === hex || local === any;
  });
}

/** True when something listens on TCP `port` on 127.0.0.1 (reads /proc/net/tcp, state 0A). */
export function tcpPortListening(port: number): boolean {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readOr('/proc/net/tcp').split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return (f[1] === `0100007F${suffix}` || f[1] === `00000000${suffix}`) && f[3] === '0A';
  });
}

/**
 * Starts SIPp and resolves once its SIP port is bound (so a caller can send
 * at once). Rejects with SIPp's errors if it exits first.
 */
export async function startSipp(opts: SippOptions): Promise<SippProcess> {
  const scenarioPath = path.isAbsolute(opts.scenario) ? opts.scenario : path.join(sippScenarioDir, opts.scenario);
  const dir = mkdtempSync(path.join(tmpdir(), 'sipp-'));
  const files = {
    msg: path.join(dir, 'messages.log'),
    log: path.join(dir, 'logs.log'),
    err: path.join(dir, 'errors.log'),
  };
  const args: string[] = [];
  if (opts.remote) args.push(opts.remote);
  args.push(
    '-sf', scenarioPath,
    '-i', '127.0.0.1', '-mi', '127.0.0.1',
    '-p', String(opts.sipPort), '-mp', String(opts.mediaPort),
    '-t', opts.transport ?? 'u1',
    '-m', String(opts.calls ?? 1), '-nostdin',
    '-timeout', `${opts.timeoutS ?? 600}s`, '-timeout_error',
    '-trace_msg', '-message_file', files.msg,
    '-trace_logs', '-log_file', files.log,
    '-trace_err', '-error_file', files.err,
  );
  if (opts.autoAnswer ?? true) args.push('-aa');
  if (opts.service) args.push('-s', opts.service);
  if (opts.durationMs !== undefined) args.push('-d', String(opts.durationMs));
  if (opts.authUser !== undefined) args.push('-au', opts.authUser);
  if (opts.authPassword !== undefined) args.push('-ap', opts.authPassword);
  const vars: Record<string, string> = { ...opts.vars };
  if (!opts.remote) {
    if (opts.authUser !== undefined) vars.auth_user ??= opts.authUser;
    if (opts.authPassword !== undefined) vars.auth_pass ??= opts.authPassword;
  }
  for (const [k, v] of Object.entries(vars)) args.push('-set', k, v);
  args.push(...(opts.extraArgs ?? []));

  // SIPp redraws its screen on stdout: discard it; keep stderr for diagnostics.
  const { child, exited } = spawnChild('sipp', args, { cwd: generatedDir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  if (child.pid === undefined) throw new Error('sipp: spawn failed');
  const pid = child.pid;
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));

  let closed: Promise<void> | undefined;
  const proc: SippProcess = {
    pid,
    sipPort: opts.sipPort,
    mediaPort: opts.mediaPort,
    exited,
    argv: ['sipp', ...args],
    close() {
      closed ??= (async () => {
        await stopChild(child, exited, 3000);
        rmSync(dir, { recursive: true, force: true });
      })();
      return closed;
    },
    messages: () => readOr(files.msg),
    sipMessages: () => parseSippMessages(readOr(files.msg)),
    logs: () => readOr(files.log),
    errors: () => `${readOr(files.err)}${stderr ? `\n[stderr]\n${stderr}` : ''}`,
  };

  try {
    await waitUntil(
      () => {
        // A UAC may finish its whole call before we look: that is not a start failure.
        if (exitCode !== undefined) {
          if (opts.remote) return true;
          throw new Error(`sipp exited ${exitCode}`);
        }
        return udpPortBound(opts.sipPort) || tcpPortListening(opts.sipPort);
      },
      10_000,
      25,
      `sipp did not bind 127.0.0.1:${opts.sipPort}`,
    );
  } catch (err) {
    const why = `${(err as Error).message}\n${proc.errors()}\nargv: ${proc.argv.join(' ')}`;
    await proc.close();
    throw new Error(why);
  }
  return proc;
}

/** Starts a SIPp UAS scenario (the far end the gateway calls). */
export function startSippUas(opts: Omit<SippOptions, 'remote'>): Promise<SippProcess> {
  return startSipp(opts);
}

/** Starts a SIPp UAC scenario calling `remote` (`host:port`). */
export function startSippUac(opts: SippOptions & { remote: string }): Promise<SippProcess> {
  return startSipp(opts);
}

/**
 * The SIPp UAS far ends of one test file, each on free ports of 127.0.0.1,
 * all stopped by their PIDs in `closeAll()` (the file's afterAll).
 */
export class SippFarEnds {
  readonly all: SippProcess[] = [];

  /** Starts `scenario` as a UAS; `mediaPortCount` consecutive media ports (default 4: audio and video, each with RTCP). */
  async uas(scenario: string, extra: Partial<SippOptions> & { mediaPortCount?: number } = {}): Promise<SippProcess> {
    const { mediaPortCount = 4, ...rest } = extra;
    const p = await startSippUas({ scenario, sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(mediaPortCount), ...rest });
    this.all.push(p);
    return p;
  }

  async closeAll(): Promise<void> {
    for (const p of this.all) await p.close();
  }
}
