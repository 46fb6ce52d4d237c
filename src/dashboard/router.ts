/**
 * The live dashboard: one static page (no build step) at `/dashboard/`, the
 * live calls as JSON (`/dashboard/api/calls`) and as Server-Sent Events
 * (`/dashboard/events`, one snapshot per interval), and the browser players
 * (mpegts.js, hls.js) served from node_modules. The page's buttons use the
 * REST API itself (/rest-api/call/terminate, /rest-api/call/send_dtmf).
 */
import express from 'express';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../shared/logger.js';
import { basicAuth, type BasicUser } from './auth.js';
import { buildRows, RateTracker, type CallRow, type DashboardCall } from './snapshot.js';

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
  player: DashboardPlayer;
  /** Server-Sent Events interval, ms. Default 1000. */
  intervalMs?: number;
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
  const streams = new Set<express.Response>();
  const intervalMs = opts.intervalMs ?? 1000;
  const snapshot = (): DashboardSnapshot => {
    const now = Date.now();
    return { nodeId: opts.nodeId, now, player: opts.player, calls: buildRows(opts.calls.registry.all(), tracker, now) };
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
    res.set({ 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    res.flushHeaders();
    const send = (): void => {
      res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
    };
    send();
    const timer = setInterval(send, intervalMs);
    streams.add(res);
    req.on('close', () => {
      clearInterval(timer);
      streams.delete(res);
    });
    res.on('close', () => clearInterval(timer));
  });
  d.get('/vendor/:file', (req, res) => {
    const file = VENDOR[req.params.file];
    if (file === undefined) {
      res.status(404).json({ error: 'Not Found', message: 'no such file', path: req.originalUrl, status: 404, timestamp: Date.now() });
      return;
    }
    res.set('Cache-Control', 'public, max-age=3600').type('application/javascript').sendFile(file);
  });

  const root = express.Router() as DashboardRouter;
  root.use('/dashboard', d);
  root.close = () => {
    clearInterval(sampler);
    for (const res of streams) res.end();
    streams.clear();
  };
  opts.log.debug({ player: opts.player }, 'dashboard ready at /dashboard/');
  return root;
}
