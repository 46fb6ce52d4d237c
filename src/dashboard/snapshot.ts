/**
 * The dashboard's view of the live calls: the Call object's fields the page
 * shows, plus rates derived from cumulative counters (RTP bytes and packets in,
 * RTMP bytes out). Pure: the caller passes the clock, so rates are testable.
 */
import type { CallObject, CallStats } from '../call/index.js';

/** What the snapshot needs of a live call (a `Call` fits). */
export interface DashboardCall {
  toJSON(): CallObject;
  stats(): CallStats;
}

/** One RTP track of a row. */
export interface TrackRow {
  packets: number;
  bytes: number;
  /** Cumulative lost packets (RFC 3550 §A.3). */
  lost: number;
  /** Receive bitrate over the last sampling interval, kbit/s. */
  kbps: number;
  /** Loss over the last sampling interval, percent of expected packets. */
  lossPct: number;
  jitterMs: number;
  nackSent: number;
  pliSent: number;
}

/** One RTMP target of a row. */
export interface TargetRow {
  /** `rtmp://host:port/app` (no stream key). */
  endpoint: string;
  status: string;
  kbps: number;
  reconnects: number;
  queuedBytes: number;
}

/** One live call as the dashboard shows it. */
export interface CallRow {
  callId: string;
  /** The node that holds the call (in a cluster, calls of other nodes are listed without their statistics). */
  nodeId: string;
  callee: string;
  status: string;
  info: string | null;
  rtmpStreamStatus: string | null;
  audioCodec: string | null;
  videoCodec: string | null;
  toStream: string;
  /** The request's rtmpUrl without its query string. */
  rtmpUrl: string | null;
  rtmpStream: string | null;
  createdAt: number;
  /** Sum of the tracks' receive bitrates, kbit/s. */
  kbpsIn: number;
  audio: TrackRow | null;
  video: TrackRow | null;
  rtmp: TargetRow[];
  transcoders: number;
}

interface Sample {
  at: number;
  counters: Map<string, number>;
  rates: Map<string, number>;
}

/**
 * Rates from cumulative counters. A new sample is taken only when at least
 * `minIntervalMs` passed since the last one, so several viewers polling at
 * once do not shrink the interval to noise; between samples the last rates
 * are repeated.
 */
export class RateTracker {
  readonly #samples = new Map<string, Sample>();

  constructor(private readonly minIntervalMs = 900) {}

  /**
   * Per-second rates of `counters` for key `id` (a call). The first call for
   * an id answers zeros: a rate needs two samples.
   */
  rates(id: string, counters: ReadonlyMap<string, number>, now: number): ReadonlyMap<string, number> {
    const prev = this.#samples.get(id);
    if (prev === undefined) {
      this.#samples.set(id, { at: now, counters: new Map(counters), rates: new Map([...counters.keys()].map((k) => [k, 0])) });
      return this.#samples.get(id)?.rates ?? new Map();
    }
    const dt = now - prev.at;
    if (dt < 0) {
      // The clock went back (a wall clock stepped): waiting for it to pass `prev.at` again would freeze the
      // rates for as long as the step. Start a new interval here instead.
      this.#samples.set(id, { at: now, counters: new Map(counters), rates: prev.rates });
      return prev.rates;
    }
    if (dt < this.minIntervalMs) return prev.rates;
    const rates = new Map<string, number>();
    for (const [k, v] of counters) {
      const before = prev.counters.get(k);
      // A counter that went backwards was reset (new session): no rate this interval.
      rates.set(k, before === undefined || v < before ? 0 : ((v - before) * 1000) / dt);
    }
    this.#samples.set(id, { at: now, counters: new Map(counters), rates });
    return rates;
  }

  /** Forgets every id not in `live` (ended calls). */
  retain(live: ReadonlySet<string>): void {
    for (const id of this.#samples.keys()) if (!live.has(id)) this.#samples.delete(id);
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

type Track = NonNullable<CallStats['rtp']['audio']>;

function trackRow(name: string, t: Track | null, rates: ReadonlyMap<string, number>): TrackRow | null {
  if (t === null) return null;
  const got = rates.get(`${name}.packets`) ?? 0;
  const lost = rates.get(`${name}.lost`) ?? 0;
  return {
    packets: t.packets, bytes: t.bytes, lost: t.lost,
    kbps: round1(((rates.get(`${name}.bytes`) ?? 0) * 8) / 1000),
    lossPct: got + lost > 0 ? round1((lost * 100) / (got + lost)) : 0,
    jitterMs: round1(t.jitter), nackSent: t.nackSent, pliSent: t.pliSent,
  };
}

/** The rows for the given live calls at time `now` (ms, a monotonic clock: rates are deltas over it). */
export function buildRows(calls: readonly DashboardCall[], tracker: RateTracker, now: number): CallRow[] {
  const rows: CallRow[] = [];
  const live = new Set<string>();
  for (const call of calls) {
    const o = call.toJSON();
    const s = call.stats();
    live.add(o.callId);
    const counters = new Map<string, number>();
    for (const [name, t] of [['audio', s.rtp.audio], ['video', s.rtp.video]] as const) {
      if (t === null) continue;
      counters.set(`${name}.bytes`, t.bytes);
      counters.set(`${name}.packets`, t.packets);
      counters.set(`${name}.lost`, t.lost);
    }
    s.rtmp.forEach((t, i) => counters.set(`rtmp${i}.bytes`, t.bytesOut));
    const rates = tracker.rates(o.callId, counters, now);
    const audio = trackRow('audio', s.rtp.audio, rates);
    const video = trackRow('video', s.rtp.video, rates);
    rows.push({
      callId: o.callId, nodeId: o.nodeId, callee: o.callee, status: o.status, info: o.info, rtmpStreamStatus: o.rtmpStreamStatus,
      audioCodec: o.audioCodec, videoCodec: o.videoCodec, toStream: o.toStream,
      // The query string of an RTMP URL often carries a token: not shown on screen.
      rtmpUrl: o.rtmpUrl?.replace(/\?.*$/, '') ?? null, rtmpStream: o.rtmpStream, createdAt: o.createdAt,
      kbpsIn: round1((audio?.kbps ?? 0) + (video?.kbps ?? 0)), audio, video,
      rtmp: s.rtmp.map((t, i) => ({
        endpoint: t.endpoint, status: t.status, reconnects: t.reconnects, queuedBytes: t.queuedBytes,
        kbps: round1(((rates.get(`rtmp${i}.bytes`) ?? 0) * 8) / 1000),
      })),
      transcoders: s.transcoders.length,
    });
  }
  tracker.retain(live);
  return rows;
}

/** A call of another node of the cluster: what the registry knows, no statistics (they stay on its node). */
export function remoteRow(o: CallObject): CallRow {
  return {
    callId: o.callId, nodeId: o.nodeId, callee: o.callee, status: o.status, info: o.info, rtmpStreamStatus: o.rtmpStreamStatus,
    audioCodec: o.audioCodec, videoCodec: o.videoCodec, toStream: o.toStream,
    rtmpUrl: o.rtmpUrl?.replace(/\?.*$/, '') ?? null, rtmpStream: o.rtmpStream, createdAt: o.createdAt,
    kbpsIn: 0, audio: null, video: null, rtmp: [], transcoders: 0,
  };
}
