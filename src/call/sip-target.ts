import { ValidationError, type Logger } from '../shared/index.js';
import type { InviteOptions } from '../sip/index.js';
import type { CallDeps } from './call-deps.js';
import type { StartupParams } from './types.js';

/** Where and to whom the INVITE goes, from the startup request (SPEC §2.1). */
export interface SipTarget {
  requestUri: string;
  fromUser: string;
  fromHost: string;
  destination: { host: string; port: number };
  /** `sipTransport` upper-cased; undefined → the URI's or the configured one. */
  transport: 'UDP' | 'TCP' | 'TLS' | undefined;
}

function hostPortOf(uri: string): { host: string; port: number | undefined } {
  // sip:user@host:port;params — take what follows '@' (or the scheme) up to ';', '?' or '>'.
  const rest = uri.replace(/^(sips?|tel):/i, '');
  const hostPart = (rest.includes('@') ? rest.slice(rest.lastIndexOf('@') + 1) : rest).split(/[;?>]/)[0] ?? '';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPart);
  return { host: m?.[1] ?? hostPart, port: m?.[2] ? Number(m[2]) : undefined };
}

/**
 * Request-URI `sip:<callee>@<sipDomain>` unless the callee is a full
 * sip:/sips:/tel: URI; requests go to `sipOutboundProxy` (default: the
 * domain, or the URI's host) on `sipPort` (default 5060).
 */
export function resolveTarget(p: StartupParams, defaultDomain: string | null): SipTarget {
  const domain = p.sipDomain ?? defaultDomain ?? undefined;
  let requestUri: string;
  let uriHost: { host: string; port: number | undefined } | undefined;
  if (/^sips?:/i.test(p.callee)) {
    requestUri = p.callee;
    uriHost = hostPortOf(p.callee);
  } else if (/^tel:/i.test(p.callee)) {
    if (!domain) throw new ValidationError('sipDomain is required for a tel: callee');
    requestUri = `sip:${p.callee.slice(4)}@${domain};user=phone`;
  } else {
    if (!domain) throw new ValidationError('sipDomain is required when callee is not a SIP URI');
    if (!/^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$/.test(p.callee)) throw new ValidationError('callee: not a valid SIP user');
    requestUri = `sip:${p.callee}@${domain}${p.sipPort && !p.sipOutboundProxy ? `:${p.sipPort}` : ''}`;
  }
  for (const [k, v] of Object.entries(p.inviteParameters ?? {})) requestUri += `;${k}=${v}`;
  const host = p.sipOutboundProxy ?? domain ?? uriHost?.host;
  if (!host) throw new ValidationError('no SIP destination: give sipDomain or sipOutboundProxy');
  const tls = p.sipTransport === 'tls' || (p.sipTransport === undefined && /^sips:/i.test(requestUri));
  const port = p.sipPort ?? (p.sipOutboundProxy || p.sipDomain ? undefined : uriHost?.port) ?? (tls ? 5061 : 5060);
  return {
    requestUri,
    fromUser: p.sipLogin ?? 'gateway',
    fromHost: domain ?? uriHost?.host ?? host,
    destination: { host: host.replace(/^\[|\]$/g, ''), port },
    transport: p.sipTransport === undefined ? undefined : (p.sipTransport.toUpperCase() as 'UDP' | 'TCP' | 'TLS'),
  };
}

/**
 * The request's digest credentials, for the realms of the domain dialled
 * (Request-URI host, sipDomain, From host) and `sip.authRealms` only;
 * undefined without a `sipPassword`.
 */
export function digestCredentials(p: StartupParams, t: SipTarget, authRealms: readonly string[] = []): { username: string; password: string; realms: string[] } | undefined {
  if (p.sipPassword === undefined) return undefined;
  const uriHost = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^;:?>]+)/i.exec(t.requestUri)?.[1];
  const realms = [uriHost, p.sipDomain, t.fromHost, ...authRealms]
    .filter((r): r is string => typeof r === 'string' && r !== '').map((r) => r.toLowerCase());
  return { username: p.sipAuthenticationName ?? t.fromUser, password: p.sipPassword, realms };
}

/** The INVITE of a call: to its target, with our offer, its credentials and the configured SIP settings. */
export function inviteOptions(
  p: StartupParams, t: SipTarget, ctx: CallDeps, o: { sipCallId: string; offer: string; log: Logger },
): InviteOptions {
  return {
    callId: o.sipCallId,
    requestUri: t.requestUri,
    from: { user: t.fromUser, host: t.fromHost, displayName: p.visibleName ?? t.fromUser },
    destination: t.destination,
    transport: t.transport,
    auth: digestCredentials(p, t, ctx.authRealms),
    sdpOffer: o.offer,
    contactParams: p.sipContactParams,
    ringTimeoutMs: ctx.ringTimeoutMs,
    ...(ctx.minSessionExpiresS !== undefined ? { minSessionExpiresS: ctx.minSessionExpiresS } : {}),
    ...(ctx.incomingReferStatus !== undefined ? { incomingReferStatus: ctx.incomingReferStatus } : {}),
    log: o.log,
  };
}
