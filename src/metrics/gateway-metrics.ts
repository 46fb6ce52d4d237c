import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus families of SPEC §8. No label holds a call id, stream name
 * or URL: cardinality stays bounded whatever the traffic.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly liveCalls = this.#gauge('gateway_calls_live', 'Calls not yet ended');
  readonly callsEnded = new Counter({
    name: 'gateway_calls_ended_total', help: 'Calls ended, by final status and reason', labelNames: ['status', 'reason'] as const, registers: [this.registry],
  });
  readonly callSetupSeconds = new Histogram({
    name: 'gateway_call_setup_seconds', help: 'Time from /call/startup to ESTABLISHED',
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60], registers: [this.registry],
  });
  readonly firstKeyframeSeconds = new Histogram({
    name: 'gateway_first_rtmp_keyframe_seconds', help: 'Time from /call/startup to the first keyframe published over RTMP',
    buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60], registers: [this.registry],
  });
  readonly rtpPackets = this.#counter('gateway_rtp_packets_total', 'RTP packets received', ['kind']);
  readonly rtpBytes = this.#counter('gateway_rtp_bytes_total', 'RTP bytes received', ['kind']);
  readonly rtpLost = this.#counter('gateway_rtp_lost_total', 'RTP packets lost (RFC 3550 cumulative loss)', ['kind']);
  readonly rtpNacks = this.#counter('gateway_rtp_nacks_sent_total', 'Packets asked for again by generic NACK', ['kind']);
  readonly rtpForeign = this.#counter('gateway_rtp_foreign_packets_total', 'RTP/RTCP datagrams dropped for coming from anywhere but the far end', ['kind']);
  readonly rtpJitter = new Gauge({
    name: 'gateway_rtp_jitter_ms', help: 'Highest interarrival jitter among live calls', labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly keyframeRequests = this.#counter('gateway_keyframe_requests_total', 'Keyframe requests sent, by kind', ['kind']);
  readonly rtmpConnections = new Gauge({
    name: 'gateway_rtmp_connections', help: 'RTMP targets by state', labelNames: ['state'] as const, registers: [this.registry],
  });
  readonly rtmpReconnects = this.#counter('gateway_rtmp_reconnects_total', 'RTMP reconnections', []);
  readonly rtmpBytes = this.#counter('gateway_rtmp_bytes_total', 'RTMP bytes sent', ['direction']);
  readonly transcoders = new Gauge({
    name: 'gateway_transcoders', help: 'Tracks being re-encoded in-process (codec engines), by kind', labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly transcoderCpu = this.#counter('gateway_transcoder_cpu_seconds_total', 'Working seconds of the codec worker threads', []);
  readonly webhookDeliveries = this.#counter('gateway_webhook_deliveries_total', 'Webhook deliveries by result', ['result']);
  readonly clusterNodesLive = this.#gauge('gateway_cluster_nodes_live', 'Live nodes of the cluster this node is in (0 without a cluster or while Redis is away)');
  readonly restRequests = this.#counter('gateway_rest_requests_total', 'REST requests by route and status', ['route', 'status']);

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gateway_' });
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  #gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}
