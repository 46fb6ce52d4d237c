/**
 * RTMP URL → connect parameters. `rtmp[s]://host[:port]/app[/instance][?query]`:
 * the path is the application (with its optional instance, e.g.
 * `live/_definst_`), the query string is kept on the tcUrl (servers such as
 * Wowza read connect parameters there) and appended to the stream name given
 * to publish (servers such as nginx-rtmp and node-media-server read it there).
 */
import { ParseError } from '../shared/index.js';

export interface RtmpTarget {
  readonly secure: boolean;
  /** Host name or address for the socket (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** `app` of the connect command: the path without slashes at either end, no query. */
  readonly app: string;
  /** `tcUrl` of the connect command: scheme, host, port, app and query. */
  readonly tcUrl: string;
  /** The name for releaseStream/FCPublish/publish, with the URL's query appended. */
  readonly streamName: string;
}

export function parseRtmpUrl(url: string, streamName: string): RtmpTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch (error) {
    throw new ParseError(`bad RTMP URL: ${url}`, { cause: error });
  }
  const secure = u.protocol === 'rtmps:';
  if (!secure && u.protocol !== 'rtmp:') throw new ParseError(`not an RTMP URL: ${u.protocol}`);
  if (u.hostname === '') throw new ParseError('RTMP URL without a host');
  const app = u.pathname.replace(/^\/+|\/+$/g, '');
  if (app === '') throw new ParseError('RTMP URL without an application');
  const port = u.port === '' ? (secure ? 443 : 1935) : Number(u.port);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const query = u.search.length > 1 ? u.search.slice(1) : '';
  const tcUrl = `${u.protocol}//${u.host}/${app}${query ? `?${query}` : ''}`;
  let name = streamName;
  if (query) name += (name.includes('?') ? '&' : '?') + query;
  return { secure, host, port, app, tcUrl, streamName: name };
}

/**
 * Splits a full stream URL `rtmp[s]://host[:port]/app[/instance]/key[?query]`
 * (what platforms hand out) into the server URL (with the query) and the key:
 * the last path segment is the stream key. Throws ParseError when there is
 * no application or no key.
 */
export function splitStreamUrl(url: string): { url: string; streamName: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (error) {
    throw new ParseError(`bad RTMP URL: ${url}`, { cause: error });
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') throw new ParseError(`not an RTMP URL: ${u.protocol}`);
  if (u.hostname === '') throw new ParseError('RTMP URL without a host');
  const parts = u.pathname.split('/').filter((p) => p !== '');
  const key = parts.pop();
  if (key === undefined || parts.length === 0) throw new ParseError('RTMP URL must name the application and the stream key (rtmp://host/app/key)');
  return { url: `${u.protocol}//${u.host}/${parts.join('/')}${u.search}`, streamName: decodeURIComponent(key) };
}
