/**
 * The embedded RTMP / HTTP-FLV server (SPEC §6), isolated: node-media-server
 * runs in a child process (embedded-child.ts) that this module starts,
 * watches and restarts. Viewers play `rtmp://host:rtmpPort/<app>/<name>` or
 * `http://host:httpPort/<app>/<name>.flv`; the call layer publishes to it
 * with an RtmpPublisher like to any other target, so while the child is down
 * a call's embedded target is `lost` and reconnects when it
 * is back — nothing else of the call notices.
 *
 * Why a process of its own (docs/embedded-server.md): it is reachable before
 * any authentication, and two node-media-server defects let one stranger's
 * bytes end the process that holds it (a truncated AMF0 number throws out of
 * its command parser) or grow it by gigabytes (a zero-filled buffer of up to
 * 16 MiB per announced chunk stream). Here a crash costs the viewers a
 * reconnect; the memory cap (resident size, polled) and the connection cap
 * bound what one stranger can take.
 *
 * Access (SPEC §6: publishing from the gateway only): signed URLs
 * (stream-auth.ts). The secret lives here and is handed to each child, so
 * `publishQuery()` and `verifyPlay()` stay valid across restarts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../shared/index.js';
import type { FromChild, ToChild } from './embedded-child.js';
import { signStreamPath, verifyStreamSign } from './stream-auth.js';

export interface EmbeddedServerOptions {
  /** Bind address, e.g. '127.0.0.1'. */
  host: string;
  rtmpPort: number;
  /** HTTP-FLV port. */
  httpPort: number;
  /** Application name, e.g. 'live'. */
  app: string;
  /**
   * Signed URLs (stream-auth.ts, node-media-server's format). `publish`: only
   * publishers with a valid `?sign=` are accepted (the gateway signs its own);
   * `play`: viewers need one too. Without a secret, a random one is made for
   * this process (publishing then works only for the gateway).
   */
  auth?: { secret: string | null; publish: boolean; play: boolean };
  /** Resident memory above which the child is killed and restarted, MiB. Default 512. */
  maxMemoryMb?: number;
  /** Connections accepted at once on each port. Default 1000. */
  maxConnections?: number;
  /** Restart delay after a crash: doubles from `minMs` to `maxMs`. Default 200 / 5000. */
  restartBackoffMs?: { minMs: number; maxMs: number };
  log: Logger;
}

export interface EmbeddedServer {
  /** Where to publish: `rtmp://<host>:<rtmpPort>/<app>` (loopback when bound to any address). */
  readonly rtmpUrl: string;
  /** HTTP-FLV base: `http://<host>:<httpPort>/<app>`; a stream is at `${httpFlvUrl}/<name>.flv`. */
  readonly httpFlvUrl: string;
  /** The application name (`live`). */
  readonly app: string;
  /** PID of the server's process while it runs (undefined while restarting). */
  readonly pid: number | undefined;
  /** Restarts so far (crashes, kills, memory cap). */
  readonly restarts: number;
  /**
   * The query to append to a publish of `name` (`sign=<exp>-<md5>`, valid for
   * a minute, asked per connection attempt), or '' when publishing is open.
   */
  publishQuery(name: string): string;
  /** Verifies a viewer's `sign` for `name`; true when play is not protected. */
  verifyPlay(name: string, sign: string | undefined): boolean;
  /** Stops the server's process (SIGTERM, SIGKILL after a grace period); resolves when its ports are free. Idempotent. */
  close(): Promise<void>;
}

/** Lifetime of the signature on the gateway's own publish: made fresh for every connection attempt. */
const PUBLISH_SIGN_TTL_S = 60;
/** How often the child's resident size is read. */
const MEMORY_POLL_MS = 500;
/** A child that lived this long restarts after the shortest delay again. */
const STABLE_AFTER_MS = 30_000;
/** The child must be ready within this long (it imports node-media-server, binds two ports). */
const START_TIMEOUT_MS = 20_000;
/** SIGTERM → SIGKILL grace on close. */
const STOP_GRACE_MS = 3000;

/** The child's exit code after an uncaught exception (embedded-child.ts). */
const CRASH_EXIT_CODE = 70;

const LEVELS = new Set(['error', 'warn', 'info', 'debug']);
const HERE = dirname(fileURLToPath(import.meta.url));
/** The child entry next to this file: TypeScript under tsx (development, tests), JavaScript when built. */
const CHILD = fileURLToPath(import.meta.url).endsWith('.ts') ? join(HERE, 'embedded-child.ts') : join(HERE, 'embedded-child.js');
/** The package root (where node_modules is), the child's working directory. */
const ROOT = resolve(HERE, '..', '..');

/** Resident set size of a process in MiB, or undefined once it is gone. */
function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM (the child closes its ports and exits), SIGKILL after the grace period; resolves once it has exited. */
async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  const grace = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(grace);
}

/** Starts the embedded server's process on the given ports. Rejects (with the child's reason) if it cannot start, e.g. a port is taken. */
export async function startEmbeddedServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const log = opts.log.child({ component: 'embedded-rtmp' });
  const auth = opts.auth ?? { secret: null, publish: false, play: false };
  const secret = auth.secret ?? randomBytes(24).toString('base64url');
  const maxMemoryMb = opts.maxMemoryMb ?? 512;
  const backoff = opts.restartBackoffMs ?? { minMs: 200, maxMs: 5000 };
  const start: ToChild = {
    type: 'start',
    options: {
      host: opts.host, rtmpPort: opts.rtmpPort, httpPort: opts.httpPort,
      auth: { secret, publish: auth.publish, play: auth.play }, maxConnections: opts.maxConnections ?? 1000,
    },
  };

  let child: ChildProcess | undefined;
  /** A child forked but not yet serving (first start or a restart): close() must stop it too. */
  let starting: ChildProcess | undefined;
  let closing = false;
  let restarts = 0;
  let delay = backoff.minMs;
  let restartTimer: NodeJS.Timeout | undefined;
  let memoryTimer: NodeJS.Timeout | undefined;

  /** Forks a child and resolves when it serves; rejects with its reason. */
  const spawnChild = (): Promise<ChildProcess> => new Promise((resolveReady, rejectReady) => {
    const execArgv = [`--max-old-space-size=${maxMemoryMb}`, ...(CHILD.endsWith('.ts') ? ['--import', 'tsx'] : [])];
    const c = fork(CHILD, [], { cwd: ROOT, execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    starting = c;
    let stderr = '';
    c.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4096);
    });
    let ready = false;
    /** Why it could not start, as it reported; the promise rejects once it has exited (its ports are free then). */
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `not ready within ${START_TIMEOUT_MS} ms`;
      c.kill('SIGKILL');
    }, START_TIMEOUT_MS);
    c.on('message', (m: FromChild) => {
      if (m.type === 'log') log[LEVELS.has(m.level) ? m.level : 'info'](m.msg);
      else if (m.type === 'ready') {
        ready = true;
        clearTimeout(timer);
        resolveReady(c);
      } else if (m.type === 'failed') {
        failure = m.message;
      }
    });
    c.on('error', (err) => log.error({ err }, 'embedded server process error'));
    c.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (starting === c) starting = undefined;
      if (!ready) {
        const why = failure ?? `exited before serving (code ${String(code)}, signal ${String(signal)})${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`;
        rejectReady(new Error(`embedded server: ${why}`));
        return;
      }
      onExit(c, code, signal, stderr);
    });
    c.send(start);
  });

  let killedForMemory: number | undefined;
  let startedAt = 0;
  const watchMemory = (c: ChildProcess): void => {
    clearInterval(memoryTimer);
    memoryTimer = setInterval(() => {
      const mb = c.pid === undefined ? undefined : rssMb(c.pid);
      if (mb === undefined || mb <= maxMemoryMb) return;
      killedForMemory = Math.round(mb);
      c.kill('SIGKILL');
    }, MEMORY_POLL_MS);
    memoryTimer.unref();
  };

  const run = async (): Promise<void> => {
    const c = await spawnChild();
    if (closing) {
      // close() came while it started and is waiting for its exit (stopChild).
      c.kill('SIGTERM');
      return;
    }
    child = c;
    starting = undefined;
    startedAt = Date.now();
    watchMemory(c);
  };

  const scheduleRestart = (): void => {
    if (closing) return;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      run().then(() => {
        if (closing) return;
        restarts++;
        log.info({ restarts, pid: child?.pid }, 'embedded server restarted');
      }, (e: unknown) => {
        log.error({ err: (e as Error).message, retryInMs: delay }, 'embedded server restart failed');
        delay = Math.min(delay * 2, backoff.maxMs);
        scheduleRestart();
      });
    }, delay);
    restartTimer.unref();
  };

  function onExit(c: ChildProcess, code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (c !== child) return;
    child = undefined;
    clearInterval(memoryTimer);
    if (closing) return;
    const reason = killedForMemory !== undefined ? `over its memory cap (${killedForMemory} MiB > ${maxMemoryMb} MiB)`
      : signal !== null ? `killed by ${signal}`
        : code === CRASH_EXIT_CODE ? 'crashed (uncaught exception)' : `exited with code ${String(code)}`;
    killedForMemory = undefined;
    if (Date.now() - startedAt >= STABLE_AFTER_MS) delay = backoff.minMs;
    log.error({ code, signal, reason, stderr: stderr.trim().slice(-500) || undefined, restartInMs: delay },
      'embedded server process ended: restarting (viewers and the calls\' embedded targets reconnect)');
    scheduleRestart();
    delay = Math.min(delay * 2, backoff.maxMs);
  }

  await run();
  log.info({ rtmpPort: opts.rtmpPort, httpPort: opts.httpPort, pid: child?.pid, maxMemoryMb }, 'embedded RTMP server listening (own process)');

  const publicHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const hostPart = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  let closed: Promise<void> | undefined;
  return {
    rtmpUrl: `rtmp://${hostPart}:${opts.rtmpPort}/${opts.app}`,
    httpFlvUrl: `http://${hostPart}:${opts.httpPort}/${opts.app}`,
    app: opts.app,
    get pid() {
      return child?.pid;
    },
    get restarts() {
      return restarts;
    },
    publishQuery: (name) => (auth.publish ? `sign=${signStreamPath(`/${opts.app}/${name}`, secret, Date.now() / 1000 + PUBLISH_SIGN_TTL_S)}` : ''),
    verifyPlay: (name, sign) => !auth.play || verifyStreamSign(`/${opts.app}/${name}`, sign, secret),
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        clearTimeout(restartTimer);
        clearInterval(memoryTimer);
        const running = [child, starting];
        child = undefined;
        starting = undefined;
        await Promise.all(running.map(stopChild));
        log.info('embedded RTMP server stopped');
      })();
      return closed;
    },
  };
}
