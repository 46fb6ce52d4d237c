import { type Logger, Scope, TypedEmitter } from '../shared/index.js';
import { PublisherSupervisor, RtmpPublisher, type PublisherStatus, type ReconnectPolicy } from '../rtmp/index.js';
import { FlvFanout, type FlvSink } from '../pipeline/index.js';
import type { MediaOutput } from './media-output.js';
import type { RtmpStreamStatus } from './types.js';

/** Output settings from configuration (`rtmp.*`), the same for every call. */
export interface RtmpOutputSettings {
  /** Retry policy for a dropped connection; `failCall`: a final failure of the call's target ends the call. */
  reconnect: ReconnectPolicy & { failCall: boolean };
  /** RTMPS: extra CA certificates (PEM text) and whether to verify the server certificate. */
  tls: { ca?: string; rejectUnauthorized: boolean };
  /** Socket backlog per target above which video frames are dropped up to the next keyframe. */
  maxQueueBytes: number;
  /** Tags gathered per target for this long into one socket write (0: none). */
  writeBatchMs: number;
  /** GOP cache bound per call. */
  gopCacheBytes: number;
  /**
   * Passthrough keyframe cadence: when the far end's keyframes are further
   * apart than this, ask it for one on this cadence (platforms want ≤ 2 s). 0: off.
   */
  keyframeIntervalMs: number;
  /**
   * Query added to every publish to the embedded server (its signed URL,
   * made fresh per connection attempt), given the stream name; absent: none.
   */
  embeddedQuery?: (streamName: string) => string;
}

export const DEFAULT_RTMP_OUTPUT: RtmpOutputSettings = {
  reconnect: { initialDelayMs: 1000, maxDelayMs: 30_000, giveUpAfterMs: 300_000, failCall: true },
  tls: { rejectUnauthorized: true },
  maxQueueBytes: 4 * 1024 * 1024,
  writeBatchMs: 0,
  gopCacheBytes: 8 * 1024 * 1024,
  keyframeIntervalMs: 0,
};

export interface CallOutputsOptions extends Partial<RtmpOutputSettings> {
  /** The request's target, or null. */
  primary: { url: string; streamName: string } | null;
  /** The embedded server's publish URL and the call's toStream, or null when disabled. */
  embedded: { url: string; streamName: string } | null;
  connectTimeoutMs: number;
  log: Logger;
}

export interface CallOutputsEvents {
  /** The call's rtmpStreamStatus: the request's target, or the embedded one when the request has none. */
  status: [status: RtmpStreamStatus, reason: string | undefined];
  /** A target (new, or reconnected) needs a keyframe to start on. */
  keyframeNeeded: [reason: string];
  /** The call's target failed for good and configuration says the call ends (FAILED_BY_RTMP_WRITER_ERROR). */
  fatal: [reason: string];
}

/** SPEC §2.7: a publisher's state as the REST API and the events name it. */
export const REST_RTMP_STATUS: Readonly<Record<PublisherStatus, RtmpStreamStatus>> = {
  waiting: 'RTMP_STREAM_WAIT',
  active: 'RTMP_STREAM_ACTIVE',
  lost: 'RTMP_CONNECTION_LOST',
  failed: 'RTMP_CONNECTION_FAILED',
};

/** Counters of one target. */
export interface OutputTargetStats {
  endpoint: string;
  status: RtmpStreamStatus;
  queuedBytes: number;
  reconnects: number;
  bytesOut: number;
  tagsWritten: number;
  videoDropped: number;
  audioDropped: number;
}

/** One extra target added at run time (a `/push`). */
export interface OutputTarget {
  readonly status: RtmpStreamStatus;
  on(event: 'status', l: (s: RtmpStreamStatus, reason: string | undefined) => void): unknown;
  close(): Promise<void>;
}

/**
 * A call's RTMP targets: the request's `rtmpUrl`, the embedded server and
 * every push. All share one FlvFanout (the call's FLV tags, sequence headers
 * and GOP cache); each target has its own publisher and reconnect policy.
 */
export class CallOutputs extends TypedEmitter<CallOutputsEvents> {
  readonly #targets = new Set<PublisherSupervisor>();
  /** Pushes added before media started. */
  readonly #pending = new Set<PublisherSupervisor>();
  readonly #fanout: FlvFanout;
  readonly #settings: RtmpOutputSettings;
  #output: MediaOutput | undefined;
  /** Timers of the output (the keyframe cadence), cleared on close. */
  readonly #timers = new Scope();
  #keyCadence = false;
  #lastKeyAt = 0;
  #sourceGopMs: number | undefined;
  #cadenceRequests = 0;
  #closing: Promise<void> | undefined;

  constructor(private readonly opts: CallOutputsOptions) {
    super((event, error) => opts.log.error({ event, err: error }, 'call outputs listener failed'));
    this.#settings = {
      reconnect: opts.reconnect ?? DEFAULT_RTMP_OUTPUT.reconnect,
      tls: opts.tls ?? DEFAULT_RTMP_OUTPUT.tls,
      maxQueueBytes: opts.maxQueueBytes ?? DEFAULT_RTMP_OUTPUT.maxQueueBytes,
      writeBatchMs: opts.writeBatchMs ?? DEFAULT_RTMP_OUTPUT.writeBatchMs,
      gopCacheBytes: opts.gopCacheBytes ?? DEFAULT_RTMP_OUTPUT.gopCacheBytes,
      keyframeIntervalMs: opts.keyframeIntervalMs ?? DEFAULT_RTMP_OUTPUT.keyframeIntervalMs,
      ...(opts.embeddedQuery ? { embeddedQuery: opts.embeddedQuery } : {}),
    };
    this.#fanout = new FlvFanout({ maxCacheBytes: this.#settings.gopCacheBytes });
    this.#fanout.on('keyframeNeeded', (reason) => this.emit('keyframeNeeded', reason));
    this.#fanout.on('gop', (ms) => this.#onGop(ms));
  }

  /** The status a call starts with once publishing begins, or null when it has no target. */
  get initialStatus(): RtmpStreamStatus | null {
    return this.opts.primary || this.opts.embedded ? 'RTMP_STREAM_WAIT' : null;
  }

  /** Interval between the last two keyframes of the output, in ms (the GOP the far end gives). */
  get gopMs(): number | undefined {
    return this.#fanout.gopMs;
  }

  /** The far end's own keyframe interval (the first GOP measured, before any cadence request), ms. */
  get sourceGopMs(): number | undefined {
    return this.#sourceGopMs;
  }

  /** Keyframe requests sent on the passthrough cadence so far. */
  get cadenceRequests(): number {
    return this.#cadenceRequests;
  }

  /**
   * Adds a non-RTMP consumer of the call's tags (HLS): it gets the headers and
   * the cached GOP now, then every tag. Allowed before start().
   */
  addSink(sink: FlvSink): void {
    if (this.#closing === undefined) this.#fanout.addSink(sink);
  }

  removeSink(sink: FlvSink): void {
    this.#fanout.removeSink(sink);
  }

  /** Number of live targets (request, embedded, pushes). */
  get targetCount(): number {
    return this.#targets.size;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Connects every target and feeds it from `output`. */
  start(output: MediaOutput): void {
    if (this.#closing !== undefined || this.#output) return;
    this.#output = output;
    // MediaOutput feeds whatever has setHeaders/write; the fan-out is that one sink.
    output.addTarget(this.#fanout);
    const targets = [
      ...(this.opts.primary ? [{ ...this.opts.primary, role: 'primary' as const }] : []),
      ...(this.opts.embedded ? [{ ...this.opts.embedded, role: 'embedded' as const }] : []),
    ];
    for (const t of targets) {
      const reportsStatus = t.role === 'primary' || !this.opts.primary;
      const sup = this.#add(t.url, t.streamName, t.role);
      sup.on('status', (s, reason) => {
        if (!reportsStatus) return;
        this.emit('status', REST_RTMP_STATUS[s], reason);
        if (s === 'failed' && this.#settings.reconnect.failCall) this.emit('fatal', reason ?? 'RTMP connection failed');
      });
      sup.start();
    }
    for (const sup of this.#pending) sup.start();
    this.#pending.clear();
  }

  /**
   * Adds a target while the call runs (a push): it connects now (or once
   * media starts) and begins on the cached GOP.
   */
  addTarget(url: string, streamName: string, log: Logger): OutputTarget {
    if (this.#closing !== undefined) throw new Error('call outputs closed');
    const sup = this.#add(url, streamName, 'push', log);
    if (this.#output) sup.start();
    else this.#pending.add(sup);
    return {
      get status() {
        return REST_RTMP_STATUS[sup.status];
      },
      on: (event, l) => sup.on(event, (s, reason) => l(REST_RTMP_STATUS[s], reason)),
      close: async () => {
        this.#pending.delete(sup);
        this.#targets.delete(sup);
        this.#fanout.remove(sup.publisher);
        await sup.close();
      },
    };
  }

  /** Per-target counters (for metrics, diagnostics and tests). */
  stats(): OutputTargetStats[] {
    return [...this.#targets].map((sup) => ({
      endpoint: sup.publisher.endpoint,
      status: REST_RTMP_STATUS[sup.status],
      queuedBytes: sup.publisher.queuedBytes,
      reconnects: sup.reconnects,
      ...sup.publisher.stats,
    }));
  }

  /** Closes every target (request, embedded, pushes) and stops feeding them; the same promise every time. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#timers.close();
      this.#output?.removeTarget(this.#fanout);
      this.#fanout.clear();
      await Promise.all([...this.#targets].map((s) => s.close().catch(() => undefined)));
      this.#targets.clear();
      this.#pending.clear();
    })();
    return this.#closing;
  }

  #add(url: string, streamName: string, role: string, log = this.opts.log): PublisherSupervisor {
    const plog = log.child({ rtmp: role });
    // Any target on the embedded server (its own, or a request/push naming it) is the gateway publishing: sign it.
    const embedded = this.opts.embedded !== null && url === this.opts.embedded.url;
    const sign = embedded ? this.#settings.embeddedQuery : undefined;
    const streamQuery = sign ? (): string => sign(streamName) : undefined;
    const p = new RtmpPublisher({
      url, streamName, log: plog, connectTimeoutMs: this.opts.connectTimeoutMs,
      maxQueueBytes: this.#settings.maxQueueBytes, writeBatchMs: this.#settings.writeBatchMs, tls: this.#settings.tls,
      ...(streamQuery ? { streamQuery } : {}),
      // node-media-server relays the data message to its players as it came.
      stripSetDataFrame: embedded,
    });
    // The embedded server is ours: it only fails by being down (its process restarting), so its target retries for as long as it takes.
    const sup = new PublisherSupervisor(p, embedded ? { ...this.#settings.reconnect, persistent: true } : this.#settings.reconnect, plog);
    sup.on('status', (s, reason) => plog.info({ endpoint: p.endpoint, status: s, reason }, 'RTMP status'));
    this.#targets.add(sup);
    this.#fanout.add(p);
    return sup;
  }

  /**
   * Platforms want a keyframe at least every 2 s. H.264 passes through as the
   * far end encodes it, so when its GOP is longer, ask it for keyframes on
   * that cadence (PLI/FIR, then SIP INFO: the media side escalates).
   */
  #onGop(ms: number): void {
    this.#lastKeyAt = Date.now();
    if (this.#sourceGopMs === undefined) {
      this.#sourceGopMs = ms;
      this.opts.log.info({ gopMs: ms }, 'output GOP measured (far end keyframe interval)');
    }
    const every = this.#settings.keyframeIntervalMs;
    if (every <= 0 || this.#keyCadence || ms <= every + 250) return;
    this.#keyCadence = true;
    this.opts.log.info({ gopMs: ms, wantedMs: every }, 'far end GOP longer than wanted: requesting keyframes on cadence');
    this.#timers.setInterval(() => {
      if (Date.now() - this.#lastKeyAt < every) return;
      // Counted as sent; the media side decides PLI/FIR or SIP INFO and rate-limits.
      this.#lastKeyAt = Date.now();
      this.#cadenceRequests++;
      this.emit('keyframeNeeded', `keyframe cadence ${every} ms`);
    }, Math.max(100, Math.floor(every / 4)));
  }
}
