/**
 * HTTP Basic authentication (RFC 7617) for every route of the REST port —
 * the API, the dashboard, /metrics, /hls — with one realm: a browser that
 * logged in to the dashboard answers the API's challenge from its credential
 * cache without asking again.
 */
import type { RequestHandler } from 'express';
import { timingSafeEqual } from 'node:crypto';

/** One configured user (`rest.users`). */
export interface BasicUser {
  name: string;
  password: string;
}

/** The realm of the REST API's challenge; shared so the browser reuses the credentials. */
export const REALM = 'gateway';

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** True when the `Authorization` header carries the credentials of one of `users`. */
export function checkBasic(header: string | undefined, users: readonly BasicUser[]): boolean {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const name = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  // Compare against every user, so timing does not tell which names exist.
  let ok = false;
  for (const u of users) if (safeEqual(u.name, name) && safeEqual(u.password, password)) ok = true;
  return ok;
}

/** Middleware answering 401 with a Basic challenge unless the request authenticates. */
export function basicAuth(users: readonly BasicUser[]): RequestHandler {
  return (req, res, next) => {
    if (checkBasic(req.headers.authorization, users)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', `Basic realm="${REALM}"`).status(401).json({
      error: 'Unauthorized', message: 'authentication required', path: req.originalUrl, status: 401, timestamp: Date.now(),
    });
  };
}
