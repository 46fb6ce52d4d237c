/**
 * node-media-server 4.4.3 run in *this* process: the body of the embedded
 * viewer server's child process (embedded-child.ts; the gateway itself only
 * supervises that child, embedded.ts). Viewers play
 * `rtmp://host:rtmpPort/<app>/<name>` or `http://host:httpPort/<app>/<name>.flv`.
 *
 * node-media-server keeps its state in module singletons (Context, logger), so
 * only one instance may run per process. Several of its defaults do not suit
 * an embedded component, and are corrected here:
 * - a listen error calls process.exit(1): its 'error' listeners are replaced
 *   so that runNodeMediaServer() rejects instead;
 * - its JSON store hooks SIGINT/SIGTERM and re-raises them: those hooks are
 *   removed so the process's own shutdown runs; the store lives in a
 *   temporary directory removed on close;
 * - stop() does not wait for its sockets: close() closes every connection
 *   (including HTTP-FLV viewers) and resolves once both ports are free;
 * - connections are capped (`maxConnections` on both listeners), and two
 *   parser defects are guarded (embedded-guard.ts).
 * Stream names must match node-media-server's `[A-Za-z0-9_-]+`.
 *
 * Access: node-media-server's signed URLs (`auth.publish` / `auth.play`, see
 * stream-auth.ts) with the secret the gateway hands over.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import NodeMediaServer from 'node-media-server';
import nmsContext from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import { InvalidStateError } from '../shared/index.js';
import { guardNodeMediaServer } from './embedded-guard.js';

/** What runNodeMediaServer logs through (node-media-server's lines, our own). */
export interface NmsLog {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export interface NmsOptions {
  /** Bind address, e.g. '127.0.0.1'. */
  host: string;
  rtmpPort: number;
  /** HTTP-FLV port. */
  httpPort: number;
  /** Signed URLs (stream-auth.ts): publishers (`publish`) and viewers (`play`) need `?sign=` made with `secret`. */
  auth: { secret: string; publish: boolean; play: boolean };
  /** Connections accepted at once on each port. Default 1000. */
  maxConnections?: number;
  log: NmsLog;
}

export interface RunningNms {
  /** Stops both listeners, drops every connection, resolves when the ports are free. Idempotent. */
  close(): Promise<void>;
}

let running = false;

function listening(server: NetServer | HttpServer, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (server.listening) {
      resolve();
      return;
    }
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(new Error(`embedded ${what} server: ${err.message}`, { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
  });
}

function closed(server: NetServer | HttpServer | undefined): Promise<void> {
  if (server === undefined || !server.listening) return Promise.resolve();
  return new Promise((resolve) => server.once('close', () => resolve()));
}

/** Routes node-media-server's console lines into our log (its info is our debug). */
function routeLogs(log: NmsLog): void {
  nmsLogger.log = (message: string, level = 'info'): void => {
    if (level === 'error') log.error(message);
    else if (level === 'warn') log.warn(message);
    else log.debug(message);
  };
}

/** Starts node-media-server on the given ports. Rejects if a port is taken or one is already running in this process. */
export async function runNodeMediaServer(opts: NmsOptions): Promise<RunningNms> {
  if (running) throw new InvalidStateError('node-media-server is already running in this process');
  running = true;
  guardNodeMediaServer();
  const log = opts.log;
  let dataDir: string | undefined;
  let nms: NodeMediaServer | undefined;
  const { auth } = opts;
  try {
    dataDir = await mkdtemp(join(tmpdir(), 'gateway-nms-'));
    routeLogs(log);
    nms = new NodeMediaServer({
      bind: opts.host,
      rtmp: { port: opts.rtmpPort },
      http: { port: opts.httpPort },
      store: { path: dataDir, maxHistory: 100 },
      webadmin: { enable: false },
      auth: { play: auth.play, publish: auth.publish, secret: auth.publish || auth.play ? auth.secret : '' },
      notify: { url: '' },
    });
    // Its constructor forces its level to debug: lift it again (our logger filters too).
    nmsLogger.level = 'info';
    nmsContext.eventEmitter.on('postPublish', releaseWhenClosed);
    const http = nms.httpServer.httpServer;
    const rtmp = nms.rtmpServer.tcpServer;
    if (http === undefined || rtmp === undefined) throw new Error('node-media-server created no listener');
    http.maxConnections = opts.maxConnections ?? 1000;
    rtmp.maxConnections = opts.maxConnections ?? 1000;
    http.removeAllListeners('error');
    const runP = nms.run();
    // run() attached its exiting 'error' handler synchronously, before its first await.
    rtmp.removeAllListeners('error');
    const ready = Promise.all([listening(rtmp, 'RTMP'), listening(http, 'HTTP-FLV')]);
    await Promise.all([ready, runP]);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      if (nms.store._onSignal) process.off(sig, nms.store._onSignal);
    }
    // After start, a server error is logged, never fatal.
    rtmp.on('error', (err) => log.error(`embedded RTMP server error: ${err.message}`));
    http.on('error', (err) => log.error(`embedded HTTP-FLV server error: ${err.message}`));
  } catch (error) {
    await shutdown(nms, dataDir);
    running = false;
    throw error;
  }
  const server = nms;
  const dir = dataDir;
  let closing: Promise<void> | undefined;
  return {
    close(): Promise<void> {
      closing ??= (async () => {
        await shutdown(server, dir);
        running = false;
      })();
      return closing;
    },
  };
}

/**
 * node-media-server keeps a disconnected publisher's session for its 30 s
 * resume window (BroadcastServer.donePublish), for its stats only; yet the
 * session's FLV tag parser still holds its 1 MiB buffer, so every ended call
 * would cost 1 MiB for 30 s. Once the socket has closed nothing is parsed
 * any more (a resumed publish comes with a session of its own): release it.
 */
function releaseWhenClosed(session: NodeMediaServer.NmsSession): void {
  session.socket?.once('close', () => {
    const flv = session.rtmp?.flv;
    if (flv === undefined) return;
    flv.parserTagData = Buffer.alloc(0);
    flv.parserTagCapacity = 0;
  });
}

async function shutdown(nms: NodeMediaServer | undefined, dataDir: string | undefined): Promise<void> {
  nmsContext.eventEmitter.off('postPublish', releaseWhenClosed);
  if (nms !== undefined) {
    const http = nms.httpServer.httpServer;
    const rtmp = nms.rtmpServer.tcpServer;
    // Swallow late errors of closing servers (no listener would mean a crash).
    http?.on('error', () => undefined);
    rtmp?.on('error', () => undefined);
    const done = Promise.all([closed(http), closed(rtmp)]);
    await nms.stop().catch(() => undefined);
    // stop() only stops accepting: HTTP-FLV viewers and keep-alive sockets would hold the close.
    http?.closeAllConnections();
    for (const ws of nms.httpServer.wsServer?.clients ?? []) ws.terminate();
    for (const s of nms.rtmpServer._sockets) s.destroy();
    await done;
    nmsContext.sessions.clear();
    nmsContext.broadcasts.clear();
  }
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
}
