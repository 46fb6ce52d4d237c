/**
 * Request guards in front of every HTTP route of the REST port (API,
 * dashboard, HLS, metrics): they stop a web page in a victim's browser from
 * using the gateway — DNS rebinding (a hostile name resolving to 127.0.0.1)
 * and cross-site requests (a form or fetch from another origin) — and keep
 * the API to JSON bodies, which a cross-site form cannot send.
 */
import type { RequestHandler } from 'express';
import { isIP } from 'node:net';

function refuse(status: number, error: string, message: string): RequestHandler {
  return (req, res) => {
    res.status(status).json({ error, message, path: req.originalUrl, status, timestamp: Date.now() });
  };
}

/** The host name of a Host header or an Origin's authority, lower-case, without port or IPv6 brackets. */
export function hostnameOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']') > 0 ? a.indexOf(']') : undefined);
  const colon = a.lastIndexOf(':');
  return colon > 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a;
}

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * DNS rebinding: a page on `evil.example` whose name now resolves to
 * 127.0.0.1 sends `Host: evil.example`. Accepted: IP literals, loopback
 * names, and `allowedHosts`; when `allowedHosts` is empty and the API has
 * credentials, any name (a browser has no credentials for a rebound origin).
 */
export function hostGuard(opts: { allowedHosts: readonly string[]; credentials: boolean }): RequestHandler {
  const allowed = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
  const deny = refuse(403, 'Forbidden', 'Host header not allowed (set rest.allowedHosts for the names this gateway is reached by)');
  return (req, res, next) => {
    const host = hostnameOf(req.headers.host ?? '');
    if (host !== '' && (isIP(host) !== 0 || isLoopbackName(host) || allowed.has(host) || (allowed.size === 0 && opts.credentials))) {
      next();
      return;
    }
    deny(req, res, next);
  };
}

/**
 * Cross-site requests: a state-changing request (anything but GET/HEAD/
 * OPTIONS) whose Origin names another host than the request's own is
 * refused. Requests without Origin (curl, server-side clients) pass.
 */
export function sameOriginGuard(): RequestHandler {
  const deny = refuse(403, 'Forbidden', 'cross-origin request refused');
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || origin === undefined) {
      next();
      return;
    }
    let originHost: string | null = null;
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      originHost = null; // "null" (sandboxed frames, file://) or garbage
    }
    if (originHost !== null && originHost === (req.headers.host ?? '').toLowerCase()) {
      next();
      return;
    }
    deny(req, res, next);
  };
}

/** POST bodies must be declared `application/json` (a cross-site form can only send text/plain, urlencoded or multipart). */
export function jsonOnly(): RequestHandler {
  const deny = refuse(415, 'Unsupported Media Type', 'Content-Type must be application/json');
  return (req, res, next) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const empty = req.headers['content-length'] === '0' || (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined);
    if (req.method !== 'POST' || type === 'application/json' || (empty && type === '')) {
      next();
      return;
    }
    deny(req, res, next);
  };
}
