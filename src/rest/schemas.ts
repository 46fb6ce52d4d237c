import { z } from 'zod';

/** WCS clients send booleans and numbers as strings (SPEC §2). */
export const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]);
export const int = (min: number, max: number): z.ZodType<number> =>
  z.union([z.number(), z.string().regex(/^\s*-?\d+\s*$/, 'a number').transform(Number)]).pipe(z.number().int().min(min).max(max));

export const dtmfDigits = z.string().regex(/^[0-9*#A-Da-d,]{1,64}$/, 'one or more of 0-9 * # A-D and , (pause)').transform((d) => d.toUpperCase());
export const dtmfType = z.enum(['RFC2833', 'INFO', 'INFO_RELAY']).default('RFC2833');

export const streamName = z.string().regex(/^[A-Za-z0-9_.~-]{1,128}$/, '1–128 characters of A-Z a-z 0-9 _ . ~ -');
/** RFC 3261 §25.1 `user`: unreserved / escaped / user-unreserved. */
export const SIP_USER = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
export const RESERVED_SYMBOLS_MESSAGE = 'SIP login or authentication name contains reserved symbols';

export const rtmpUrl = z.string().refine((u) => {
  try {
    const url = new URL(u);
    return (url.protocol === 'rtmp:' || url.protocol === 'rtmps:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'must be an rtmp:// or rtmps:// URL with a host');

/** Call-ID (RFC 3261 §25.1 `word`, without '@' parts) — what we can put on the wire verbatim. */
const callId = z.string().regex(/^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}@]{1,128}$/, 'a SIP Call-ID word of 1–128 characters');

export const startupSchema = z.object({
  callId: callId.optional(),
  callee: z.string({ error: 'callee is required' }).trim().min(1, 'callee is required').max(256),
  toStream: streamName.optional(),
  rtmpUrl: rtmpUrl.optional(),
  rtmpStream: streamName.optional(),
  hasAudio: bool.default(true),
  hasVideo: bool.default(true),
  sipLogin: z.string().max(128).optional(),
  sipAuthenticationName: z.string().max(128).optional(),
  sipPassword: z.string().max(256).optional(),
  sipDomain: z.string().regex(/^[A-Za-z0-9.\-:[\]]{1,253}$/, 'an FQDN or IP address').optional(),
  sipOutboundProxy: z.string().regex(/^[A-Za-z0-9.\-:[\]]{1,253}$/, 'an FQDN or IP address').optional(),
  sipPort: int(1, 65535).optional(),
  sipTransport: z.enum(['udp', 'tcp', 'tls', 'UDP', 'TCP', 'TLS']).transform((t) => t.toLowerCase() as 'udp' | 'tcp' | 'tls').optional(),
  sipRegisterRequired: bool.default(false),
  visibleName: z.string().max(128).optional(),
  sipVisibleName: z.string().max(128).optional(),
  inviteParameters: z.record(z.string().regex(/^[A-Za-z0-9\-_.!~*'%+]+$/, 'parameter names of URI token characters'),
    z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  sipContactParams: z.string().max(512).regex(/^[^\r\n]*$/, 'one line').optional(),
  sipSDP: z.array(z.string().regex(/^[a-z]=[^\r\n]*$/, 'SDP lines such as "b=AS:3000"')).max(20).optional(),
  // Omitted: the configured default application (webhook.defaultApp).
  appKey: z.string().min(1).max(64).optional(),
  custom: z.record(z.string(), z.unknown()).default({}),
  /** Codecs left out of this call's offer (WCS's stripCodecs): a comma-separated string or an array of names. */
  stripCodecs: z.union([
    z.string().max(256).transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== '')),
    z.array(z.string().min(1).max(32)).max(16),
  ]).optional(),
  /** Per call: no RTP for this long ends the call (0: never); default rtp.rtpActivityTimeoutMs. */
  rtpActivityTimeoutMs: int(0, 86_400_000).optional(),
  /** Per call: re-encode the far end's H.264 too (fixed keyframe interval, transcode.videoMax* cap), for picky RTMP/HLS servers. */
  transcodeVideo: bool.optional(),
  /** Cluster: a call whose node dies is dialled again by a surviving node (default cluster.recover). */
  recover: bool.optional(),
  /** Per call: record the output to a file (WCS's `record`); the path is in the Call object (`recordingPath`). */
  record: bool.optional(),
  /** Per call: a conference lobby; no RTP during this long after the answer never ends the call (the timeout runs after it). */
  lobbyTimeoutMs: int(0, 86_400_000).optional(),
  /** Extension: a PIN sent once ESTABLISHED (Cisco Meeting Server IVR). */
  joinDtmf: z.object({
    digits: dtmfDigits,
    delayMs: int(0, 600_000).default(3000),
    type: dtmfType,
  }).optional(),
});

export const findSchema = z.object({
  callId: z.string().optional(),
  callee: z.string().optional(),
  caller: z.string().optional(),
  status: z.string().optional(),
  rtmpUrl: z.string().optional(),
  rtmpStream: z.string().optional(),
  toStream: z.string().optional(),
});

export const terminateSchema = z.object({ callId: z.string({ error: 'callId is required' }).min(1) });

export const transferSchema = z.object({
  callId: z.string({ error: 'callId is required' }).min(1),
  target: z.string({ error: 'target is required' }).trim().min(1, 'target is required').max(256),
});

export const dtmfSchema = z.object({
  callId: z.string({ error: 'callId is required' }).min(1),
  dtmf: dtmfDigits,
  type: dtmfType,
});
