import type { Call, CallObject } from '../call/index.js';
import type { Counter } from 'prom-client';
import type { GatewayMetrics } from './gateway-metrics.js';

type Totals = Record<string, number>;

/** The `info` codes the gateway itself sets: the only values the `reason` label takes beside `SIP_<status>` and `OTHER`. */
const REASON_CODES = new Set([
  'NORMAL_CALL_CLEARING', 'FAILED_BY_RTP_ACTIVITY', 'FAILED_BY_RTMP_WRITER_ERROR', 'FAILED_BY_REQUEST_TIMEOUT',
  'NO_COMMON_CODECS', 'BAD_SDP_ANSWER', 'INTERNAL_ERROR',
]);

/**
 * A bounded `reason` label for an ended call: our own code (the part before
 * `: ` of `CODE: detail`), else the SIP status (a far end's reason phrase is
 * free text), else `OTHER`. Exported for tests.
 */
export function reasonLabel(info: string | null, sipStatus: number | null): string {
  const code = (info ?? '').split(': ')[0] ?? '';
  if (REASON_CODES.has(code)) return code;
  if (sipStatus !== null && Number.isInteger(sipStatus) && sipStatus >= 100 && sipStatus <= 699) return `SIP_${sipStatus}`;
  return 'OTHER';
}

/** The monotonic counters one call contributes, flattened to `family|label` keys. */
function callTotals(call: Call): Totals {
  const t: Totals = {};
  const st = call.stats();
  for (const kind of ['audio', 'video'] as const) {
    const s = st.rtp[kind];
    if (!s) continue;
    t[`packets|${kind}`] = s.packets;
    t[`bytes|${kind}`] = s.bytes;
    t[`lost|${kind}`] = s.lost;
    t[`nack|${kind}`] = s.nackSent;
    t[`foreign|${kind}`] = s.foreign;
    t['keyframe|pli'] = (t['keyframe|pli'] ?? 0) + s.pliSent;
    t['keyframe|fir'] = (t['keyframe|fir'] ?? 0) + s.firSent;
  }
  for (const target of st.rtmp) {
    t['rtmpBytes|out'] = (t['rtmpBytes|out'] ?? 0) + target.bytesOut;
    t.rtmpReconnects = (t.rtmpReconnects ?? 0) + target.reconnects;
  }
  return t;
}

/**
 * Feeds the Prometheus families of SPEC §8 from the calls: counters are the
 * sum over live calls plus everything ended calls counted, so they never go
 * down; no label carries a call id (bounded cardinality).
 */
export class CallMetricsCollector {
  readonly #live = new Map<Call, Totals>();
  readonly #ended: Totals = {};
  readonly #seen = new Map<string, { established: boolean; active: boolean }>();

  readonly #reported = new Map<object, Map<string, number>>();

  /** `codecBusySeconds`: the codec worker threads' working time (the transcoders' CPU). */
  constructor(private readonly m: GatewayMetrics, private readonly codecBusySeconds: () => number = () => 0) {}

  callStarted(call: Call): void {
    this.#live.set(call, {});
  }

  /** The call's statistics are final: fold them into the ended totals. */
  callClosed(call: Call): void {
    const last = this.#merge(this.#live.get(call) ?? {}, callTotals(call));
    for (const [k, v] of Object.entries(last)) this.#ended[k] = (this.#ended[k] ?? 0) + v;
    this.#live.delete(call);
    this.#seen.delete(call.callId);
  }

  /** Status changes: setup time, time to the first RTMP keyframe, ended calls. */
  onChange(call: CallObject, final: boolean, liveCalls: number): void {
    const seen = this.#seen.get(call.callId) ?? { established: false, active: false };
    this.#seen.set(call.callId, seen);
    const sinceStart = (Date.now() - call.createdAt) / 1000;
    if (!seen.established && call.status === 'ESTABLISHED') {
      seen.established = true;
      this.m.callSetupSeconds.observe(sinceStart);
    }
    if (!seen.active && call.rtmpStreamStatus === 'RTMP_STREAM_ACTIVE') {
      // ACTIVE = publish accepted and the first tag written; every connection starts on a keyframe.
      seen.active = true;
      this.m.firstKeyframeSeconds.observe(sinceStart);
    }
    // Bounded cardinality: details (and far ends' reason phrases) are for logs and webhooks.
    if (final) this.m.callsEnded.inc({ status: call.status, reason: reasonLabel(call.info, call.sipStatus) });
    this.m.liveCalls.set(liveCalls);
  }

  /** Called at every scrape: brings the counters and gauges up to date. */
  collect(): void {
    const totals: Totals = { ...this.#ended };
    const rtmpStates: Record<string, number> = {};
    const transcoders = { audio: 0, video: 0 };
    const jitter = { audio: 0, video: 0 };
    for (const [call, prev] of this.#live) {
      const now = this.#merge(prev, callTotals(call));
      this.#live.set(call, now);
      for (const [k, v] of Object.entries(now)) totals[k] = (totals[k] ?? 0) + v;
      const st = call.stats();
      for (const t of st.rtmp) rtmpStates[t.status] = (rtmpStates[t.status] ?? 0) + 1;
      for (const kind of ['audio', 'video'] as const) jitter[kind] = Math.max(jitter[kind], st.rtp[kind]?.jitter ?? 0);
      for (const kind of st.transcoders) transcoders[kind]++;
    }

    const m = this.m;
    for (const kind of ['audio', 'video'] as const) {
      this.#setCounter(m.rtpPackets, { kind }, totals[`packets|${kind}`]);
      this.#setCounter(m.rtpBytes, { kind }, totals[`bytes|${kind}`]);
      this.#setCounter(m.rtpLost, { kind }, totals[`lost|${kind}`]);
      this.#setCounter(m.rtpNacks, { kind }, totals[`nack|${kind}`]);
      this.#setCounter(m.rtpForeign, { kind }, totals[`foreign|${kind}`]);
      m.rtpJitter.set({ kind }, jitter[kind]);
    }
    this.#setCounter(m.keyframeRequests, { kind: 'pli' }, totals['keyframe|pli']);
    this.#setCounter(m.keyframeRequests, { kind: 'fir' }, totals['keyframe|fir']);
    this.#setCounter(m.rtmpBytes, { direction: 'out' }, totals['rtmpBytes|out']);
    this.#setCounter(m.rtmpReconnects, {}, totals.rtmpReconnects);
    m.rtmpConnections.reset();
    for (const [state, n] of Object.entries(rtmpStates)) m.rtmpConnections.set({ state }, n);
    for (const kind of ['audio', 'video'] as const) m.transcoders.set({ kind }, transcoders[kind]);
    this.#setCounter(m.transcoderCpu, {}, this.codecBusySeconds());
  }

  /** prom-client counters only go up by increments: add what the total grew by since the last scrape. */
  #setCounter<L extends string>(c: Counter<L>, labels: Partial<Record<L, string>>, total: number | undefined): void {
    let reported = this.#reported.get(c);
    if (!reported) this.#reported.set(c, (reported = new Map()));
    const key = JSON.stringify(labels);
    const last = reported.get(key);
    const value = total ?? 0;
    if (last === undefined || value > last) {
      c.inc(labels, value - (last ?? 0));
      reported.set(key, value);
    }
  }

  /** Per call, a counter never goes down (a removed /push target keeps what it counted). */
  #merge(prev: Totals, now: Totals): Totals {
    const out: Totals = { ...prev };
    for (const [k, v] of Object.entries(now)) out[k] = Math.max(out[k] ?? 0, v);
    return out;
  }
}

