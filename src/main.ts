import http from 'node:http';
import https from 'node:https';
import express from 'express';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { isLoopbackHost, loadConfig, type GatewayConfig } from './config/index.js';
import { ConfigError, Scope, installErrorBoundary, createLogger, type Logger } from './shared/index.js';
import { SipUserAgent, type SipServerCall } from './sip/index.js';
import { PortAllocator } from './rtp/index.js';
import { startEmbeddedServer, type EmbeddedServer } from './rtmp/index.js';
import { HlsStore } from './pipeline/index.js';
import { CallService, HlsService, PushService, RECEIVABLE_CODECS, warmGeneratedMedia, type StartupParams } from './call/index.js';
import { basicAuth, captureRouter, createRestApp, hlsRouter, pushRouter, type HlsRouteOptions } from './rest/index.js';
import { CaptureService, IncomingCaptures, SqliteCaptureStore } from './capture/index.js';
import { createCluster, RedisCaptureLease, RedisCaptureStore } from './cluster/index.js';
import { WebhookDispatcher } from './webhook/index.js';
import { GatewayMetrics, CallMetricsCollector } from './metrics/index.js';
import { dashboardRouter } from './dashboard/index.js';
import { codecPool } from './transcode/index.js';


export interface Gateway {
  readonly config: Readonly<GatewayConfig>;
  readonly calls: CallService;
  readonly restPort: number;
  /** The HTTPS port when rest.tls is configured. */
  readonly httpsPort: number | null;
  readonly sipPort: number;
  readonly embedded: EmbeddedServer | null;
  close(): Promise<void>;
}

function localAddressFor(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** The address our SDP gives for RTP bound to `host`: a wildcard bind gives the first external IPv4 address. */
function defaultSdpAddress(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function listen<S extends http.Server>(server: S, port: number, host: string): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * /hls viewers: signed like the embedded server's when play is protected;
 * otherwise, on a REST port reachable beyond loopback, behind the REST
 * credentials unless the operator opened viewing (`rtmp.publicViewers`).
 */
function hlsRoutes(store: HlsStore, config: Readonly<GatewayConfig>, embedded: EmbeddedServer | null, elsewhere?: HlsRouteOptions['elsewhere']): express.Router {
  const others = elsewhere ? { elsewhere } : {};
  if (embedded && config.rtmp.embedded.auth.play) return hlsRouter(store, { verifyPlay: embedded.verifyPlay, ...others });
  const r = express.Router();
  if (!isLoopbackHost(config.rest.host) && !config.rtmp.publicViewers) r.use('/hls', basicAuth(config.rest.users));
  r.use(hlsRouter(store, others));
  return r;
}

/** The composition root: the only place that reads the configuration and wires the modules. */
export async function startGateway(config: Readonly<GatewayConfig>, log: Logger): Promise<Gateway> {
  const exclude = new Set(config.codecs.exclude.map((c) => c.toLowerCase()));
  const audioCodecs = config.codecs.audio.filter((c) => !exclude.has(c) && RECEIVABLE_CODECS.audio.has(c));
  const videoCodecs = config.codecs.video.filter((c) => !exclude.has(c) && RECEIVABLE_CODECS.video.has(c));
  const notYet = [...config.codecs.audio, ...config.codecs.video].filter((c) => !exclude.has(c) && !RECEIVABLE_CODECS.audio.has(c) && !RECEIVABLE_CODECS.video.has(c));
  if (notYet.length > 0) log.warn({ codecs: notYet }, 'codecs not offered: this build does not receive them yet');

  const metrics = new GatewayMetrics();
  const callMetrics = new CallMetricsCollector(metrics, () => codecPool().busySeconds());
  // Read at boot so a wrong path fails the start, never a call.
  const rtmpsCa = config.rtmp.tls.ca !== null ? readFileSync(config.rtmp.tls.ca, 'utf8') : undefined;
  // Everything started below is released by this scope, last started first: calls hang up (BYE)
  // while REST answers 503, then the REST ports close, webhook events are flushed, and SIP and the
  // embedded server close last. A start that fails half-way releases what it had started the same way.
  const scope = new Scope((e) => log.warn({ err: e }, 'release failed while stopping'));
  // One bad peer costs one call: an exception escaping a call's code ends that call only (error-boundary.ts).
  scope.defer(installErrorBoundary(log));
  try {
    // Generated media is made while the rest starts (it never rejects; awaited before REST listens).
    const warming = warmGeneratedMedia({ generateMediaForUa: config.rtp.generateMediaForUa, placeholderVideo: config.transcode.placeholderVideo }, log);
    let embedded: EmbeddedServer | null = null;
    if (config.rtmp.embedded.enabled) {
      embedded = await startEmbeddedServer({ ...config.rtmp.embedded, log: log.child({ module: 'embedded-rtmp' }) });
      scope.add(embedded);
    }
    const sip = await SipUserAgent.start({
      host: config.sip.host, port: config.sip.port, publicAddress: config.sip.publicAddress,
      userAgent: config.sip.userAgent, log: log.child({ module: 'sip' }),
      registerExpiresS: config.sip.registerExpiresS,
      tcpSwitchConnectTimeoutMs: config.sip.tcpSwitchConnectTimeoutMs, tcpSwitchMemoryMs: config.sip.tcpSwitchMemoryMs,
      transport: config.sip.transport.toUpperCase() as 'UDP' | 'TCP' | 'TLS', tcp: config.sip.tcp,
      tls: { port: config.sip.tls.port, caFile: config.sip.tls.caFile, verifyServer: config.sip.tls.verifyServer, certFile: config.sip.tls.cert, keyFile: config.sip.tls.key },
    });
    scope.add(sip);
    const ports = new PortAllocator({ min: config.rtp.portMin, max: config.rtp.portMax, host: config.rtp.host });
    const webhook = new WebhookDispatcher({ ...config.webhook, log: log.child({ module: 'webhook' }) });
    webhook.onResult = (r) => metrics.webhookDeliveries.inc({ result: r });
    scope.defer(async () => {
      await webhook.flush(config.webhook.timeoutMs);
      webhook.close();
    });

    const calls = new CallService({
      nodeId: config.nodeId,
      sip,
      ports,
      sdpAddress: config.rtp.publicAddress ?? config.sip.publicAddress ?? defaultSdpAddress(config.rtp.host),
      ringTimeoutMs: config.sip.ringTimeoutMs,
      jitterBufferMs: config.rtp.jitterBufferMs,
      codecs: { audio: audioCodecs, video: videoCodecs, h264Profiles: config.codecs.h264Profiles },
      authRealms: config.sip.authRealms,
      minSessionExpiresS: config.sip.minSessionExpiresS,
      incomingReferStatus: config.sip.incomingReferStatus,
      recording: { ...config.recording, dir: path.resolve(config.recording.dir) },
      transcode: config.transcode,
      mediaTuning: {
        rtpActivityTimeoutMs: config.rtp.rtpActivityTimeoutMs, generateMediaForUa: config.rtp.generateMediaForUa,
        audioOutput: config.transcode.audio, videoPreset: config.transcode.videoPreset, keyframeIntervalS: config.transcode.keyframeIntervalS,
        videoMaxWidth: config.transcode.videoMaxWidth, videoMaxHeight: config.transcode.videoMaxHeight,
        placeholderVideo: config.transcode.placeholderVideo, symmetricLatching: config.rtp.symmetricLatching,
      },
      rtmpConnectTimeoutMs: config.rtmp.connectTimeoutMs,
      rtmpOutput: {
        reconnect: config.rtmp.reconnect,
        tls: { rejectUnauthorized: config.rtmp.tls.rejectUnauthorized, ...(rtmpsCa !== undefined ? { ca: rtmpsCa } : {}) },
        maxQueueBytes: config.rtmp.maxQueueBytes,
        writeBatchMs: config.rtmp.writeBatchMs,
        gopCacheBytes: config.rtmp.gopCacheBytes,
        keyframeIntervalMs: config.rtmp.keyframeRequestIntervalMs,
        ...(embedded ? { embeddedQuery: embedded.publishQuery } : {}),
      },
      embeddedRtmpUrl: embedded?.rtmpUrl ?? null,
      maxCalls: config.rest.maxCalls,
      defaultDomain: config.sip.defaultDomain,
      log,
    });
    calls.on('change', (call, final) => {
      webhook.post(call.appKey, 'CallStatusEvent', call.callId, call, final);
      callMetrics.onChange(call, final, calls.registry.size);
    });
    calls.on('registration', (r) => webhook.post(r.appKey, 'RegistrationStatusEvent', r.callId, r));
    calls.on('transfer', (t) => webhook.post(t.appKey, 'TransferStatusEvent', t.callId, t));
    calls.on('callStarted', (call) => callMetrics.callStarted(call));
    calls.on('callClosed', (call) => callMetrics.callClosed(call));
    // cluster.redisUrl: one registry of every node's calls on Redis (left after the calls ended); without it, this node alone.
    const cluster = config.cluster.redisUrl ? createCluster(config, calls, log.child({ module: 'cluster' })) : null;
    if (cluster) {
      scope.add(cluster.node);
      cluster.calls.on('lost', (c) => webhook.post(c.appKey, 'CallStatusEvent', c.callId, c, true));
      cluster.node.on('beat', () => void cluster.node.liveNodes().then((n) => metrics.clusterNodesLive.set(n.length), () => undefined));
      cluster.node.on('down', () => metrics.clusterNodesLive.set(0));
    }
    // The REST ports keep answering (503 for new calls) while the calls hang up: released after them.
    const web = scope.child();
    scope.add(calls);

    // Closed before the calls: a capture caught by the shutdown stays LIVE in its store and dials again at the next start.
    // In a cluster with capture.store "redis", the nodes share the schedules and one node runs each due capture (a lease).
    const shared = cluster !== null && config.capture.store === 'redis';
    const captureStore = shared ? new RedisCaptureStore(cluster.node) : new SqliteCaptureStore(path.resolve(config.capture.path));
    const captures = scope.add(new CaptureService({
      calls, store: captureStore, leadMs: config.capture.leadMs,
      maxDurationS: config.capture.maxDurationS, nodeId: config.nodeId, log: log.child({ module: 'capture' }),
      ...(shared ? { lease: new RedisCaptureLease(cluster.node), tickMs: config.cluster.heartbeatMs } : {}),
      ...(cluster ? { start: (p: StartupParams) => cluster.calls.startup(p, true) } : {}),
    }));
    // Declared incoming captures answer the INVITEs to their user part; any other INVITE gets 404.
    const incoming = new IncomingCaptures({
      calls, store: captureStore, shared, advertised: sip.localAddress, log: log.child({ module: 'incoming' }),
      ...(cluster ? { answer: (p: StartupParams, s: SipServerCall) => cluster.calls.answer(p, s) } : {}),
    });
    sip.incoming = { minSessionExpiresS: config.sip.minSessionExpiresS, incomingReferStatus: config.sip.incomingReferStatus };
    sip.onInvite = (call) => incoming.onInvite(call);
    captures.on('change', (c, final) => webhook.post(c.appKey, 'CaptureStatusEvent', c.captureId, c, final));
    const pushes = new PushService(calls, log.child({ module: 'push' }), config.rest.maxPushesPerCall);
    pushes.on('change', (push, appKey, final) => webhook.post(appKey, 'PushStatusEvent', push.callId, push, final));
    const hlsStore = new HlsStore({ segmentMs: config.rtmp.hls.segmentMs, listSize: config.rtmp.hls.listSize, maxSegmentBytes: config.rtmp.hls.maxSegmentBytes });
    const hls = config.rtmp.hls.enabled ? new HlsService(calls, hlsStore, log.child({ module: 'hls' })) : null;
    if (hls) scope.add(hls);
    scope.add(pushes);

    // Operations routes live outside /rest-api and before the REST app's 404 handler.
    const ops = express.Router();
    // rest.users (any profile) guard every route of this port; a scraper may have credentials of its own.
    const users = config.rest.users;
    if (users.length > 0) ops.use('/metrics', basicAuth([...users, ...config.rest.metricsUsers]));
    ops.get('/metrics', async (_req, res) => {
      callMetrics.collect();
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    ops.get('/healthz', (_req, res) => {
      res.json({ status: 'ok', cluster: cluster ? (cluster.node.ready ? 'ready' : 'unreachable') : null });
    });
    // The live dashboard at /dashboard/ (behind the same Basic auth as the REST API in production).
    const dashboard = dashboardRouter({
      calls, nodeId: config.nodeId, log: log.child({ module: 'dashboard' }),
      ...(cluster ? { others: () => cluster.calls.others } : {}),
      users,
      player: { flv: embedded ? { port: config.rtmp.embedded.httpPort, app: config.rtmp.embedded.app } : null, hls: hls !== null },
    });
    web.add(dashboard);
    const appKeys = { known: Object.keys(config.webhook.apps), defaultApp: config.webhook.defaultApp, strict: config.webhook.strictAppKey };
    const app = createRestApp({
      apiRouters: [pushRouter(pushes, cluster?.calls), captureRouter(captures, incoming, appKeys)],
      rootRouters: [ops, dashboard, ...(hls ? [hlsRoutes(hlsStore, config, embedded, cluster ? async (name) => (await cluster.calls.nodeOfStream(name))?.restUrl : undefined)] : [])],
      calls: cluster?.calls ?? calls, log: log.child({ module: 'rest' }), maxBodyBytes: config.rest.maxBodyBytes,
      users, allowedHosts: config.rest.allowedHosts,
      appKeys,
      onRequest: (route, status) => metrics.restRequests.inc({ route, status: String(status) }),
    });
    // Answering means ready: the first call's generated media does not wait for a codec worker to start.
    await warming;
    const server = await listen(http.createServer(app), config.rest.httpPort, config.rest.host);
    web.defer(() => closeServer(server));
    let httpsPort: number | null = null;
    if (config.rest.tls.cert && config.rest.tls.key) {
      // HTTPS beside HTTP (SPEC §2), same app and routes.
      const tlsServer = await listen(https.createServer({ cert: readFileSync(config.rest.tls.cert), key: readFileSync(config.rest.tls.key) }, app),
        config.rest.httpsPort, config.rest.host);
      web.defer(() => closeServer(tlsServer));
      httpsPort = (tlsServer.address() as AddressInfo).port;
    }

    const restPort = (server.address() as AddressInfo).port;
    await cluster?.node.start(config.cluster.restUrl ?? `http://${localAddressFor(config.rest.host)}:${restPort}`, () => calls.registry.size);
    // After the cluster (their store may be its Redis): schedules armed, declarations read.
    await captures.start();
    await incoming.start();
    log.info({ rest: `http://${localAddressFor(config.rest.host)}:${restPort}/rest-api`, httpsPort, sipPort: sip.localAddress.port,
      embedded: embedded?.rtmpUrl ?? null, httpFlv: embedded ? `http://${localAddressFor(config.rtmp.embedded.host)}:${config.rtmp.embedded.httpPort}/${config.rtmp.embedded.app}/<toStream>.flv` : null },
    'gateway started');

    let closing: Promise<void> | undefined;
    return {
      config, calls, restPort, httpsPort, sipPort: sip.localAddress.port, embedded,
      close: () => (closing ??= (async () => {
        log.info('gateway stopping');
        await scope.close();
        log.info('gateway stopped');
      })()),
    };
  } catch (e) {
    await scope.close();
    throw e;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, allowPositionals: false });
  let config: Readonly<GatewayConfig>;
  try {
    config = loadConfig(values.config ?? process.env.GATEWAY_CONFIG);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.log.level);
  let gw: Gateway;
  try {
    gw = await startGateway(config, log);
  } catch (e) {
    // A start refused for a reason of the configuration (a node id live in the cluster, Redis unreachable): said plainly.
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, 20_000);
    deadline.unref();
    void gw.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    process.stderr.write(`gateway failed to start: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
