/**
 * The embedded RTMP / HTTP-FLV server (SPEC §6): node-media-server 4.4.3 run
 * in-process. Viewers play `rtmp://host:rtmpPort/<app>/<name>` or
 * `http://host:httpPort/<app>/<name>.flv`; the call layer publishes to it with
 * an RtmpPublisher like to any other target.
 *
 * node-media-server keeps its state in module singletons (Context, logger), so
 * only one instance may run per process. Several of its defaults do not suit
 * an embedded component, and are corrected here:
 * - a listen error calls process.exit(1): its 'error' listeners are replaced
 *   so that startEmbeddedServer() rejects instead;
 * - its JSON store hooks SIGINT/SIGTERM and re-raises them: those hooks are
 *   removed so the gateway's own graceful shutdown runs; the store lives in a
 *   temporary directory removed on close;
 * - stop() does not wait for its sockets: close() closes every connection
 *   (including HTTP-FLV viewers) and resolves once both ports are free.
 * Stream names must match node-media-server's `[A-Za-z0-9_-]+`.
 *
 * Access (SPEC §6: publishing from the gateway only): node-media-server's
 * signed URLs (`auth.publish` / `auth.play`, see stream-auth.ts). The gateway
 * signs each of its own publish attempts with `publishQuery()`; `verifyPlay()`
 * lets the HLS routes accept the same viewer signature.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import NodeMediaServer from 'node-media-server';
import nmsContext from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import { randomBytes } from 'node:crypto';
import { InvalidStateError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { signStreamPath, verifyStreamSign } from './stream-auth.js';

export interface EmbeddedServerOptions {
  /** Bind address, e.g. '0.0.0.0' or '127.0.0.1'. */
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
  log: Logger;
}

export interface EmbeddedServer {
  /** Where to publish: `rtmp://<host>:<rtmpPort>/<app>` (loopback when bound to any address). */
  readonly rtmpUrl: string;
  /** HTTP-FLV base: `http://<host>:<httpPort>/<app>`; a stream is at `${httpFlvUrl}/<name>.flv`. */
  readonly httpFlvUrl: string;
  /** The application name (`live`). */
  readonly app: string;
  /**
   * The query to append to a publish of `name` (`sign=<exp>-<md5>`, valid for
   * a minute, asked per connection attempt), or '' when publishing is open.
   */
  publishQuery(name: string): string;
  /** Verifies a viewer's `sign` for `name`; true when play is not protected. */
  verifyPlay(name: string, sign: string | undefined): boolean;
  /** Stops both listeners, drops every connection, resolves when the ports are free. Idempotent. */
  close(): Promise<void>;
}

let running = false;
/** Lifetime of the signature on the gateway's own publish: made fresh for every connection attempt. */
const PUBLISH_SIGN_TTL_S = 60;

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

/** Routes node-media-server's console lines into our logger (its info is our debug). */
function routeLogs(log: Logger): void {
  nmsLogger.log = (message: string, level = 'info'): void => {
    if (level === 'error') log.error(message);
    else if (level === 'warn') log.warn(message);
    else log.debug(message);
  };
}

/** Starts node-media-server on the given ports. Rejects if a port is taken or one is already running. */
export async function startEmbeddedServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  if (running) throw new InvalidStateError('the embedded RTMP server is already running in this process');
  running = true;
  const log = opts.log.child({ component: 'embedded-rtmp' });
  let dataDir: string | undefined;
  let nms: NodeMediaServer | undefined;
  const auth = opts.auth ?? { secret: null, publish: false, play: false };
  const secret = auth.secret ?? randomBytes(24).toString('base64url');
  try {
    dataDir = await mkdtemp(join(tmpdir(), 'gateway-nms-'));
    routeLogs(log);
    nms = new NodeMediaServer({
      bind: opts.host,
      rtmp: { port: opts.rtmpPort },
      http: { port: opts.httpPort },
      store: { path: dataDir, maxHistory: 100 },
      webadmin: { enable: false },
      auth: { play: auth.play, publish: auth.publish, secret: auth.publish || auth.play ? secret : '' },
      notify: { url: '' },
    });
    // Its constructor forces its level to debug: lift it again (our logger filters too).
    nmsLogger.level = 'info';
    nmsContext.eventEmitter.on('postPublish', releaseWhenClosed);
    const http = nms.httpServer.httpServer;
    const rtmp = nms.rtmpServer.tcpServer;
    if (http === undefined || rtmp === undefined) throw new Error('node-media-server created no listener');
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
    rtmp.on('error', (err) => log.error({ err }, 'embedded RTMP server error'));
    http.on('error', (err) => log.error({ err }, 'embedded HTTP-FLV server error'));
    log.info({ rtmpPort: opts.rtmpPort, httpPort: opts.httpPort }, 'embedded RTMP server listening');
  } catch (error) {
    await shutdown(nms, dataDir);
    running = false;
    throw error;
  }
  const server = nms;
  const dir = dataDir;
  const publicHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const hostPart = publicHost.includes(':') ? `[${publicHost}]` : publicHost;
  let closing: Promise<void> | undefined;
  return {
    rtmpUrl: `rtmp://${hostPart}:${opts.rtmpPort}/${opts.app}`,
    httpFlvUrl: `http://${hostPart}:${opts.httpPort}/${opts.app}`,
    app: opts.app,
    publishQuery: (name) => (auth.publish ? `sign=${signStreamPath(`/${opts.app}/${name}`, secret, Date.now() / 1000 + PUBLISH_SIGN_TTL_S)}` : ''),
    verifyPlay: (name, sign) => !auth.play || verifyStreamSign(`/${opts.app}/${name}`, sign, secret),
    close(): Promise<void> {
      closing ??= (async () => {
        await shutdown(server, dir);
        running = false;
        log.info('embedded RTMP server stopped');
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
