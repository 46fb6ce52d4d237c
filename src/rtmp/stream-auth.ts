/**
 * Signed stream URLs for the embedded server, in node-media-server's format
 * (its broadcast_server verifyAuth): `?sign=<expiry>-<md5hex>` where expiry is
 * a Unix time in seconds and md5hex = MD5(`/<app>/<name>-<expiry>-<secret>`).
 * One format for RTMP, HTTP-FLV and HLS, so a viewer's signed URL works for
 * all three. Pure functions.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The `sign` value for `streamPath` (`/live/name`) valid until `expiresAtS`. */
export function signStreamPath(streamPath: string, secret: string, expiresAtS: number): string {
  const exp = Math.floor(expiresAtS);
  const hash = createHash('md5').update(`${streamPath}-${exp}-${secret}`).digest('hex');
  return `${exp}-${hash}`;
}

/** Whether `sign` is a valid, unexpired signature of `streamPath`. */
export function verifyStreamSign(streamPath: string, sign: string | undefined, secret: string, nowS = Date.now() / 1000): boolean {
  if (sign === undefined) return false;
  const m = /^(\d{1,12})-([0-9a-f]{32})$/.exec(sign);
  if (m === null) return false;
  const exp = Number(m[1]);
  if (exp < Math.floor(nowS)) return false;
  const want = Buffer.from(signStreamPath(streamPath, secret, exp));
  const got = Buffer.from(sign);
  return want.length === got.length && timingSafeEqual(want, got);
}
