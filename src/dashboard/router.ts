/**
 * The live dashboard: one static page (no build step) at `/dashboard/`, the
 * live calls as JSON (`/dashboard/api/calls`) and as Server-Sent Events
 * (`/dashboard/events`, one snapshot per interval), and the browser players
 * (mpegts.js, hls.js) served from node_modules. The page's buttons use the
 * REST API itself (/rest-api/call/terminate, /rest-api/call/send_dtmf).
 */
import express from 'express';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../shared/index.js';
import { basicAuth, type BasicUser } from '../rest/index.js';
import { buildRows, remoteRow, RateTracker, type CallRow, type DashboardCall } from './snapshot.js';
import type { CallObject } from '../call/index.js';

/** How the page plays a call's stream. */
export interface DashboardPlayer {
  /** The embedded server's HTTP-FLV port and app (`http://<page host>:<port>/<app>/<toStream>.flv`), or null when disabled. */
  flv: { port: number; app: string } | null;
  /** True when HLS is served on this port at `/hls/<toStream>/index.m3u8`. */
  hls: boolean;
}

/** Options of {@link dashboardRouter}. */
export interface DashboardOptions {
  /** The live calls (a `CallService` fits). */
  calls: { readonly registry: { all(): DashboardCall[] } };
  /** When non-empty, every dashboard route needs HTTP Basic auth with one of these (realm `gateway`, as the REST API). */
  users: readonly BasicUser[];
  nodeId: string;
  /** In a cluster: the other nodes' live calls (the registry's last view). */
  others?: () => readonly CallObject[];
  player: DashboardPlayer;
  /** Server-Sent Events interval, ms. Default 1000. */
  intervalMs?: number;
  /** Event streams open at once, all viewers together; one more is answered 503. Default 100. */
  maxEventStreams?: number;
  log: Logger;
}

/** The JSON of `/dashboard/api/calls` and of each SSE `snapshot` event. */
export interface DashboardSnapshot {
  nodeId: string;
  now: number;
  player: DashboardPlayer;
  calls: CallRow[];
}

/** An express Router (mounted at the root; its routes start with `/dashboard`) with a `close()` that ends open event streams. */
export type DashboardRouter = express.Router & { close(): void };

const require = createRequire(import.meta.url);
const VENDOR: Record<string, string> = {
  'mpegts.js': require.resolve('mpegts.js/dist/mpegts.js'),
  'hls.js': require.resolve('hls.js/dist/hls.min.js'),
};
const PAGE_FILE = fileURLToPath(new URL('./public/index.html', import.meta.url));

/** Builds the dashboard routes. */
export function dashboardRouter(opts: DashboardOptions): DashboardRouter {
  const page = readFileSync(PAGE_FILE);
  const tracker = new RateTracker();
  /** Open event streams, each with what ends it. */
  const streams = new Map<express.Response, () => void>();
  const intervalMs = opts.intervalMs ?? 1000;
  const maxEventStreams = opts.maxEventStreams ?? 100;
  const snapshot = (): DashboardSnapshot => {
    // Rates are measured on the monotonic clock: the wall clock steps (NTP, a VM resumed), and a step back
    // would hold every rate at its last value (0 kbit/s right after the first sample) until it caught up.
    const rows = [...buildRows(opts.calls.registry.all(), tracker, performance.now()), ...(opts.others?.() ?? []).map(remoteRow)];
    return { nodeId: opts.nodeId, now: Date.now(), player: opts.player, calls: rows };
  };
  const refuse = (res: express.Response, status: number, message: string, path: string): void => {
    res.status(status).json({ error: status === 404 ? 'Not Found' : 'Service Unavailable', message, path, status, timestamp: Date.now() });
  };
  // A rate needs two samples of the counters. Sampled on a clock of its own, whoever watches: otherwise
  // the first snapshot a viewer gets (a page load, a single API call) shows every bitrate as 0 kbit/s.
  const sampler = setInterval(() => snapshot(), intervalMs);
  sampler.unref();

  const d = express.Router();
  if (opts.users.length > 0) d.use(basicAuth(opts.users));
  d.use((_req, res, next) => {
    res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'X-Frame-Options': 'DENY' });
    next();
  });
  d.get('/', (req, res) => {
    // Relative links in the page need the trailing slash.
    if (!req.originalUrl.split('?')[0]?.endsWith('/')) {
      res.redirect(301, '/dashboard/');
      return;
    }
    res.type('html').send(page);
  });
  d.get('/api/calls', (_req, res) => {
    res.json(snapshot());
  });
  d.get('/events', (req, res) => {
    // Each stream holds a socket and a timer for as long as the viewer keeps it: bounded, all viewers together.
    if (streams.size >= maxEventStreams) {
      res.set('Retry-After', '5');
      refuse(res, 503, `too many dashboard event streams (${maxEventStreams})`, req.originalUrl);
      return;
    }
    res.set({ 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    res.flushHeaders();
    const send = (): void => {
      // A viewer that does not read would otherwise have every snapshot buffered here: skip while it lags.
      if (res.writableEnded || res.destroyed || res.writableNeedDrain) return;
      res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
    };
    send();
    const timer = setInterval(send, intervalMs);
    const done = (): void => {
      clearInterval(timer);
      streams.delete(res);
    };
    streams.set(res, done);
    req.on('close', done);
    res.on('close', done);
  });
  d.get('/vendor/:file', (req, res) => {
    // Own keys only: `__proto__` or `constructor` must not reach sendFile.
    const file = Object.hasOwn(VENDOR, req.params.file) ? VENDOR[req.params.file] : undefined;
    if (file === undefined) {
      refuse(res, 404, 'no such file', req.originalUrl);
      return;
    }
    res.set('Cache-Control', 'public, max-age=3600').type('application/javascript').sendFile(file);
  });

  const root = express.Router() as DashboardRouter;
  root.use('/dashboard', d);
  root.close = () => {
    clearInterval(sampler);
    for (const [res, done] of [...streams]) {
      done();
      res.end();
    }
  };
  opts.log.debug({ player: opts.player }, 'dashboard ready at /dashboard/');
  return root;
}
