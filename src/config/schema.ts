import { z } from 'zod';
import { AUDIO_CODEC_NAMES, VIDEO_CODEC_NAMES } from '../shared/index.js';

const port = z.number().int().min(0).max(65535);
const nonEmpty = z.string().min(1);
const user = z.object({ name: nonEmpty, password: nonEmpty });

/** True for an address only this machine reaches (a wildcard or any other address is beyond loopback). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The configuration schema of SPEC §7. Every key has a default, so an empty
 * file gives a working gateway (embedded RTMP server included).
 */
export const configSchema = z.object({
  nodeId: nonEmpty.default('gw1'),
  profile: z.enum(['dev', 'production']).default('dev'),
  rest: z.object({
    host: nonEmpty.default('127.0.0.1'),
    httpPort: port.default(8081),
    httpsPort: port.default(8444),
    tls: z.object({ cert: z.string().nullable().default(null), key: z.string().nullable().default(null) }).default({ cert: null, key: null }),
    /** Basic auth on every REST, dashboard and metrics route whenever non-empty (any profile). */
    users: z.array(user).default([]),
    /** Extra credentials valid for GET /metrics only (a Prometheus scraper). */
    metricsUsers: z.array(user).default([]),
    /** Host names the REST port is reached by (DNS rebinding guard); IP literals and loopback names always pass. */
    allowedHosts: z.array(nonEmpty).default([]),
    maxCalls: z.number().int().min(1).default(500),
    maxBodyBytes: z.number().int().min(1024).default(65536),
    /** /push targets one call may have at once (409 beyond). */
    maxPushesPerCall: z.number().int().min(0).max(1000).default(10),
  }).prefault({}),
  sip: z.object({
    host: nonEmpty.default('0.0.0.0'),
    port: port.default(5060),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    publicAddress: z.string().nullable().default(null),
    userAgent: nonEmpty.default('sip-rtmp-gateway/0.1'),
    ringTimeoutMs: z.number().int().min(1000).default(60000),
    defaultDomain: z.string().nullable().default(null),
    /** Listen on TCP on `sip.port` too (TCP calls, and UDP INVITEs over 1300 bytes, RFC 3261 §18.1.1). */
    tcp: z.boolean().default(true),
    tls: z.object({
      /** TLS listener port, used only when `cert` and `key` are set; outgoing TLS works without them. */
      port: port.default(5061),
      /** PEM file of extra CAs trusted beside the system store. */
      caFile: z.string().nullable().default(null),
      /** Verify far ends' certificates and names (keep on outside labs). */
      verifyServer: z.boolean().default(true),
      cert: z.string().nullable().default(null),
      key: z.string().nullable().default(null),
    }).prefault({}),
    /** Smallest session interval taken (RFC 4028 Min-SE), seconds: a far-end refresh below it gets 422, a 2xx below it is raised. */
    minSessionExpiresS: z.number().int().min(1).max(86400).default(90),
    /** How a far end's REFER (a transfer of our call elsewhere) is refused: 603 Decline, 403 Forbidden or 488 Not Acceptable Here. */
    incomingReferStatus: z.union([z.literal(603), z.literal(403), z.literal(488)]).default(603),
    /** Digest realms answered beside the domain dialled (Request-URI host, sipDomain, From host); `*` answers any realm. */
    authRealms: z.array(nonEmpty).default([]),
    /** Expires asked for in REGISTER (sipRegisterRequired); refreshed before it runs out. */
    registerExpiresS: z.number().int().min(10).max(86400).default(3600),
    /** A UDP INVITE over 1300 bytes tries TCP with this connect timeout, then UDP (RFC 3261 §18.1.1). */
    tcpSwitchConnectTimeoutMs: z.number().int().min(100).max(30000).default(2000),
    /** How long a destination that refused that TCP connection gets UDP directly (0: never remember). */
    tcpSwitchMemoryMs: z.number().int().min(0).default(600000),
  }).prefault({}),
  rtp: z.object({
    host: nonEmpty.default('0.0.0.0'),
    publicAddress: z.string().nullable().default(null),
    portMin: port.default(31000),
    portMax: port.default(31999),
    jitterBufferMs: z.number().int().min(0).max(2000).default(100),
    rtpActivityTimeoutMs: z.number().int().min(0).default(60000),
    generateMediaForUa: z.boolean().default(true),
    /** Accept media from any address (far ends behind NAT) and send back to it; default: only from the SDP's address. */
    symmetricLatching: z.boolean().default(false),
  }).refine((r) => r.portMin <= r.portMax && r.portMin % 2 === 0 && r.portMax - r.portMin >= 3, {
    path: ['portMin'], message: 'must be even, below rtp.portMax, with room for two port pairs',
  }).prefault({}),
  codecs: z.object({
    audio: z.array(z.enum(AUDIO_CODEC_NAMES)).default([...AUDIO_CODEC_NAMES]),
    video: z.array(z.enum(VIDEO_CODEC_NAMES)).default([...VIDEO_CODEC_NAMES]),
    exclude: z.array(z.string()).default([]),
    h264Profiles: z.array(z.string().regex(/^[0-9a-fA-F]{6}$/, 'six hex digits')).default(['42e01f', '640028']),
  }).prefault({}),
  transcode: z.object({
    ffmpegPath: nonEmpty.default('ffmpeg'),
    audio: z.enum(['aac', 'copy']).default('aac'),
    audioBitrate: z.number().int().min(8000).max(512000).default(64000),
    audioSampleRate: z.union([z.literal(44100), z.literal(48000)]).default(48000),
    // libavcodec's AAC encoder: auto = libfdk_aac when node-av's build has it (about half the CPU), else aac.
    aacEncoder: z.enum(['auto', 'aac', 'libfdk_aac']).default('auto'),
    videoPreset: nonEmpty.default('veryfast'),
    keyframeIntervalS: z.number().min(0.5).max(10).default(2),
    // Re-encoded video (VP8, or H.264 with transcodeVideo) is scaled down to fit; 0: no cap on that side.
    videoMaxWidth: z.number().int().min(0).max(7680).default(1920),
    videoMaxHeight: z.number().int().min(0).max(4320).default(1080),
    // Video for calls without incoming video (audio-only answer): none, black, or an image file path.
    placeholderVideo: z.string().min(1).default('none'),
  }).prefault({}),
  /** `record: true` calls are written here as FLV; the guard stops a recording (never the call) below minFreeBytes free or past maxFileBytes. */
  recording: z.object({
    dir: nonEmpty.default('recordings'),
    minFreeBytes: z.number().int().min(0).default(512 * 1024 * 1024),
    maxFileBytes: z.number().int().min(0).default(0),
  }).prefault({}),
  rtmp: z.object({
    connectTimeoutMs: z.number().int().min(100).default(10000),
    /** RTMPS trust: a PEM file of extra CA certificates; verification can be turned off (tests only). */
    tls: z.object({
      ca: z.string().nullable().default(null),
      rejectUnauthorized: z.boolean().default(true),
    }).prefault({}),
    /** Socket backlog per target above which whole video frames are dropped up to the next keyframe. */
    maxQueueBytes: z.number().int().min(65536).default(4 * 1024 * 1024),
    /** Tags written to a target within this many ms go out as one socket write; 0: each at once. */
    writeBatchMs: z.number().int().min(0).max(500).default(50),
    /** GOP cache per call (replayed to a new or reconnected target). */
    gopCacheBytes: z.number().int().min(0).default(8 * 1024 * 1024),
    /** Passthrough H.264: ask the far end for a keyframe when its GOP is longer than this; 0 disables. */
    keyframeRequestIntervalMs: z.number().int().min(0).default(2000),
    reconnect: z.object({
      initialDelayMs: z.number().int().min(0).default(1000),
      maxDelayMs: z.number().int().min(0).default(30000),
      giveUpAfterMs: z.number().int().min(0).default(300000),
      failCall: z.boolean().default(true),
    }).prefault({}),
    /** Viewers beyond loopback may play the embedded server and /hls without a signature (explicit opt-in). */
    publicViewers: z.boolean().default(false),
    embedded: z.object({
      enabled: z.boolean().default(true),
      host: nonEmpty.default('127.0.0.1'),
      rtmpPort: port.default(1935),
      httpPort: port.default(8000),
      app: z.string().regex(/^[A-Za-z0-9_.~-]+$/).default('live'),
      /** The server runs in a process of its own: killed and restarted above this resident size (MiB). */
      maxMemoryMb: z.number().int().min(64).max(65536).default(512),
      /** Connections accepted at once on each of its ports. */
      maxConnections: z.number().int().min(1).max(100000).default(1000),
      /** Restart delay after its process ended: doubles from minMs up to maxMs. */
      restartBackoffMs: z.object({
        minMs: z.number().int().min(10).default(200),
        maxMs: z.number().int().min(10).max(600_000).default(5000),
      }).refine((b) => b.minMs <= b.maxMs, { path: ['maxMs'], message: 'maxMs must be at least minMs' })
        .prefault({}),
      /** Signed URLs (`?sign=<exp>-<md5(/app/name-exp-secret)>`): publish accepted from the gateway only; play optionally. */
      auth: z.object({
        /** Shared secret; null: a random one per start (then only the gateway can sign, and play cannot be protected). */
        secret: z.string().min(16).nullable().default(null),
        publish: z.boolean().default(true),
        play: z.boolean().default(false),
      }).refine((a) => !a.play || a.secret !== null, { path: ['secret'], message: 'play protection needs a secret viewers can sign with' })
        .prefault({}),
    }).prefault({}),
    /** HLS per call at /hls/<toStream>/index.m3u8 on the REST HTTP port (segments kept in memory). */
    hls: z.object({
      enabled: z.boolean().default(true),
      segmentMs: z.number().int().min(500).max(10000).default(2000),
      listSize: z.number().int().min(2).max(20).default(5),
      maxSegmentBytes: z.number().int().min(65536).default(16 * 1024 * 1024),
    }).prefault({}),
  }).prefault({}),
  webhook: z.object({
    apps: z.record(z.string(), z.string().regex(/^(https?:\/\/[^/]+.*)?$/, 'must be an http(s) URL or empty')).default({ callApp: 'http://localhost:9091/CallApp' }),
    timeoutMs: z.number().int().min(100).default(5000),
    retries: z.number().int().min(0).max(10).default(3),
    secret: z.string().nullable().default(null),
    maxQueuePerCall: z.number().int().min(2).default(100),
    // The application of a call whose appKey `apps` does not name (and of a startup without appKey).
    defaultApp: nonEmpty.default('callApp'),
    // true: a startup naming an appKey `apps` does not have is refused (400) instead.
    strictAppKey: z.boolean().default(false),
  }).prefault({}).refine((w) => Object.keys(w.apps).length === 0 || w.defaultApp in w.apps, {
    path: ['defaultApp'], message: 'names no application of webhook.apps',
  }),
  /** Many nodes, one API (SPEC §7): off without redisUrl; with it, calls are registered in Redis and any node answers for all. */
  cluster: z.object({
    redisUrl: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').nullable().default(null),
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 _ . -').default('default'),
    placement: z.enum(['local', 'least-loaded']).default('local'),
    maxCallsPerNode: z.number().int().min(1).nullable().default(null),
    heartbeatMs: z.number().int().min(200).max(60_000).default(2000),
    nodeTtlMs: z.number().int().min(600).max(300_000).default(6000),
    /** How the other nodes reach this one's REST API; default http://<rest.host, or 127.0.0.1>:<rest.httpPort>. */
    restUrl: z.string().regex(/^https?:\/\//, 'an http:// or https:// URL').nullable().default(null),
    /** Default of a startup's `recover`: a call whose node dies is dialled again by a survivor. */
    recover: z.boolean().default(false),
  }).prefault({}).refine((c) => c.nodeTtlMs > c.heartbeatMs, { path: ['nodeTtlMs'], message: 'must be longer than heartbeatMs' }),
  /** Scheduled captures (SPEC §2.9, §7): where schedules are kept, how early a capture dials, how long one may last. */
  capture: z.object({
    store: z.enum(['sqlite', 'redis']).default('sqlite'),
    path: nonEmpty.default('./data/captures.db'),
    leadMs: z.number().int().min(0).max(3_600_000).default(30_000),
    maxDurationS: z.number().int().min(60).max(7 * 86_400).default(43_200),
  }).prefault({}),
  log: z.object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).prefault({}),
}).refine((c) => c.capture?.store !== 'redis' || c.cluster?.redisUrl !== null, {
  path: ['capture', 'store'],
  message: '"redis" keeps the schedules in the cluster\'s Redis: set cluster.redisUrl, or use "sqlite"',
  when: (p) => typeof p.value === 'object' && p.value !== null,
}).refine((c) => c.profile !== 'production' || c.rest.users.length > 0, {
  path: ['rest', 'users'],
  message: 'profile "production" needs at least one REST user (there is no built-in password)',
  // Checked even when other keys are wrong, so one start lists every problem.
  when: (p) => typeof p.value === 'object' && p.value !== null && (p.value as { rest?: { users?: unknown } }).rest?.users !== undefined,
}).refine((c) => isLoopbackHost(String(c.rest.host)) || (Array.isArray(c.rest.users) && c.rest.users.length > 0), {
  // A gateway that places phone calls must not be an open dialer (toll fraud).
  path: ['rest', 'host'],
  message: 'the REST API is bound beyond loopback without credentials: set rest.users (Basic auth) or bind rest.host to 127.0.0.1',
  when: (p) => typeof p.value === 'object' && p.value !== null && (p.value as { rest?: { users?: unknown } }).rest?.users !== undefined,
}).refine((c) => {
  // May run on a partly invalid value (when: below), so every step is guarded.
  const e = (c.rtmp as Partial<typeof c.rtmp> | undefined)?.embedded;
  return e === undefined || !e.enabled || isLoopbackHost(String(e.host)) || e.auth?.play === true || c.rtmp.publicViewers === true;
}, {
  path: ['rtmp', 'embedded', 'host'],
  message: 'the embedded server is bound beyond loopback with open play: set rtmp.embedded.auth.play (signed viewer URLs), bind it to 127.0.0.1, or set rtmp.publicViewers to true',
  when: (p) => typeof p.value === 'object' && p.value !== null && (p.value as { rtmp?: unknown }).rtmp !== undefined,
});

export type GatewayConfig = z.infer<typeof configSchema>;
