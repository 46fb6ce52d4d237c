/**
 * HLS per call on the REST HTTP port (SPEC §6): `GET /hls/<toStream>/index.m3u8`
 * and its segments `GET /hls/<toStream>/<n>.ts`. Mounted at the root (outside
 * /rest-api and its Basic auth: players cannot send it). With play protection,
 * the playlist and segments need the embedded server's `?sign=` for the
 * stream; the playlist repeats it on every segment URI.
 */
import express from 'express';
import type { HlsStore } from '../pipeline/index.js';

export interface HlsRouteOptions {
  /** Checks a viewer's signature for a stream; absent: open. */
  verifyPlay?: (name: string, sign: string | undefined) => boolean;
  /** In a cluster: the REST base URL of the node whose call has this stream (not this one), if any. */
  elsewhere?: (name: string) => Promise<string | undefined>;
}

const NAME = /^[A-Za-z0-9_.~-]{1,128}$/;

function notFound(res: express.Response, path: string): void {
  res.status(404).json({ error: 'Not Found', message: 'no such HLS stream or segment', path, status: 404, timestamp: Date.now() });
}

/** The /hls routes, to mount at the root. */
export function hlsRouter(store: HlsStore, opts: HlsRouteOptions = {}): express.Router {
  const r = express.Router();
  // Browser players (hls.js) fetch cross-origin.
  r.use('/hls', (_req, res, next) => {
    res.set('Access-Control-Allow-Origin', '*');
    next();
  });
  const allowed = (req: express.Request, res: express.Response, name: string): boolean => {
    if (opts.verifyPlay === undefined) return true;
    const sign = typeof req.query.sign === 'string' ? req.query.sign : undefined;
    if (opts.verifyPlay(name, sign)) return true;
    res.status(403).json({ error: 'Forbidden', message: 'a valid sign is required to play this stream', path: req.path, status: 403, timestamp: Date.now() });
    return false;
  };
  r.get('/hls/:name/index.m3u8', async (req, res) => {
    const name = req.params.name;
    if (!NAME.test(name)) {
      notFound(res, req.path);
      return;
    }
    if (!allowed(req, res, name)) return;
    const sign = typeof req.query.sign === 'string' ? req.query.sign : undefined;
    const text = store.get(name)?.playlist(sign !== undefined && opts.verifyPlay ? `?sign=${encodeURIComponent(sign)}` : '');
    if (text == null) {
      // Another node's call: the viewer goes there (segment URIs are relative, so they follow).
      const owner = await opts.elsewhere?.(name).catch(() => undefined);
      if (owner) res.redirect(307, `${owner}${req.originalUrl}`);
      else notFound(res, req.path);
      return;
    }
    res.set('Cache-Control', 'no-cache').type('application/vnd.apple.mpegurl').send(text);
  });
  r.get('/hls/:name/:seg', (req, res) => {
    const { name, seg } = req.params;
    const m = /^(\d{1,15})\.ts$/.exec(seg);
    if (!NAME.test(name) || m === null) {
      notFound(res, req.path);
      return;
    }
    if (!allowed(req, res, name)) return;
    const data = store.get(name)?.segment(Number(m[1]));
    if (data === undefined) {
      notFound(res, req.path);
      return;
    }
    res.set('Cache-Control', 'max-age=60').type('video/mp2t').send(data);
  });
  return r;
}
