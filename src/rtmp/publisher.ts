/**
 * RTMP(S) publisher: the socket shell (TCP/TLS connect, timers, status and
 * phase) around the pure PublishSession (publish-session.ts), which holds the
 * handshake, the command sequence and the chunk encoding. One instance
 * publishes one stream to one server; the call layer fans the same FlvTag
 * objects out to several instances.
 */
import net from 'node:net';
import tls from 'node:tls';
import { TypedEmitter, ParseError, type Logger } from '../shared/index.js';
import { isSequenceHeader, type FlvTag } from '../pipeline/index.js';
import { ByteSink } from './chunk.js';
import { PublishSession } from './publish-session.js';
import { nextPhase, type PublisherPhase } from './publisher-state.js';
import { parseRtmpUrl, type RtmpTarget } from './url.js';
import { writeScheduler, type BatchedWriter, type WriteScheduler } from './write-batch.js';

export { SERVER_LIMITS } from './server-limits.js';

/**
 * Where a publisher stands: connecting or published without media yet, media
 * flowing, an accepted publish whose connection dropped, or a connection or
 * publish that failed. Protocol words: the call maps them to the REST
 * `rtmpStreamStatus` (SPEC §2.7).
 */
export type PublisherStatus = 'waiting' | 'active' | 'lost' | 'failed';

export interface RtmpPublisherOptions {
  /** `rtmp[s]://host[:port]/app[/instance][?query]` (see parseRtmpUrl). */
  url: string;
  /** The key passed to publish. */
  streamName: string;
  log: Logger;
  /** Limit for TCP connect + handshake + publish accepted; default 10000. */
  connectTimeoutMs?: number;
  /** Socket backlog above which video is dropped up to the next keyframe; default 4 MiB. */
  maxQueueBytes?: number;
  /** RTMPS: extra trust anchors (PEM) and whether to verify the server certificate (default true). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /**
   * Extra query for the publish name, asked on every connection attempt (a
   * signed URL whose signature expires: see stream-auth.ts). '' for none.
   */
  streamQuery?: () => string;
  /**
   * Send metadata as a plain `onMetaData` data message instead of
   * `@setDataFrame onMetaData`: for servers that relay the publisher's data
   * message to players as it came (node-media-server), whose players would
   * otherwise see an unknown `@setDataFrame` data stream.
   */
  stripSetDataFrame?: boolean;
  /**
   * While publishing, gather the tags written within this many ms into one
   * socket write (write-batch.ts); 0 (default): each tag is written at once.
   */
  writeBatchMs?: number;
}

/** Gathered bytes past this go out at once, not at the tick. */
const BATCH_MAX_BYTES = 64 * 1024;

/** Counters for metrics. */
export interface RtmpPublisherStats {
  bytesOut: number;
  bytesIn: number;
  tagsWritten: number;
  videoDropped: number;
  audioDropped: number;
}

const CLOSE_GRACE_MS = 2000;
/**
 * Some servers (node-media-server among them) answer NetStream.Publish.Start
 * and only then check the name, closing the socket at once when it is taken
 * or invalid. A close this soon after the answer, before any media went out,
 * is a refusal (FAILED), not a lost connection worth reconnecting to.
 */
const REFUSAL_WINDOW_MS = 1000;

/**
 * Publishes FLV tags to an RTMP server. Status: `waiting` until the
 * publish is accepted and the first media tag is written (`active`);
 * a failure to connect or publish is `failed`; an accepted
 * publish whose connection drops is `lost` (but a close within
 * 1 s of the accept is a refusal: FAILED). No retry here (see PublisherSupervisor):
 * `start()` may be called again after FAILED or LOST.
 */
export class RtmpPublisher extends TypedEmitter<{
  status: [status: PublisherStatus, reason: string | undefined];
  /**
   * The publish was accepted and the headers went out: media written from now
   * on is sent (a fan-out replays its cached GOP here).
   */
  publishing: [];
  /**
   * One connection attempt failed (emitted for every attempt, unlike `status`).
   * `refused`: the server answered and said no (bad key, publish refused,
   * connect rejected): retrying the same request is pointless.
   */
  attemptFailed: [reason: string, refused: boolean];
  closed: [];
}> implements BatchedWriter {
  readonly #log: Logger;
  readonly #target: RtmpTarget;
  readonly #connectTimeoutMs: number;
  readonly #maxQueue: number;
  readonly #tls: { ca?: string | Buffer; rejectUnauthorized?: boolean } | undefined;
  readonly #streamQuery: (() => string) | undefined;
  readonly #stripSetDataFrame: boolean;
  readonly #batch: WriteScheduler | undefined;
  /** Messages encoded for the batch tick (publishing only), and the size of the last batch (the next one's first guess). */
  #pending: ByteSink | undefined;
  #lastBatchBytes = 0;
  /** The name given to publish on this connection (the target's, plus a fresh streamQuery). */
  #publishName = '';
  #phase: PublisherPhase = 'idle';
  #status: PublisherStatus = 'waiting';
  #socket: net.Socket | undefined;
  #session: PublishSession | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | undefined;
  #headers: { metadata?: FlvTag; video?: FlvTag; audio?: FlvTag } = {};
  #mediaWritten = false;
  #publishStartAt = 0;
  #sawVideoKey = false;
  #dropVideo = false;
  #closing: Promise<void> | undefined;
  readonly #stats: RtmpPublisherStats = { bytesOut: 0, bytesIn: 0, tagsWritten: 0, videoDropped: 0, audioDropped: 0 };

  constructor(opts: RtmpPublisherOptions) {
    super();
    this.#target = parseRtmpUrl(opts.url, opts.streamName);
    this.#log = opts.log.child({ rtmp: `${this.#target.host}:${this.#target.port}/${this.#target.app}` });
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.#maxQueue = opts.maxQueueBytes ?? 4 * 1024 * 1024;
    this.#tls = opts.tls;
    this.#streamQuery = opts.streamQuery;
    this.#stripSetDataFrame = opts.stripSetDataFrame ?? false;
    this.#batch = (opts.writeBatchMs ?? 0) > 0 ? writeScheduler(opts.writeBatchMs as number) : undefined;
    this.#publishName = this.#target.streamName;
  }

  /** Host, port and app, without the key (safe to log). */
  get endpoint(): string {
    const t = this.#target;
    return `${t.secure ? 'rtmps' : 'rtmp'}://${t.host}:${t.port}/${t.app}`;
  }

  get status(): PublisherStatus {
    return this.#status;
  }

  /** Internal connection phase (for tests and diagnostics). */
  get phase(): PublisherPhase {
    return this.#phase;
  }

  get stats(): Readonly<RtmpPublisherStats> {
    return this.#stats;
  }

  /** Bytes written but not yet taken by the kernel, or gathered for the next write (the per-target queue that is bounded). */
  get queuedBytes(): number {
    return (this.#socket?.writableLength ?? 0) + (this.#pending?.used ?? 0);
  }

  /** Connects and publishes. Allowed when idle, or again after FAILED/LOST. */
  start(): void {
    this.#phase = nextPhase(this.#phase, 'connecting');
    const t = this.#target;
    this.#lastError = undefined;
    this.#mediaWritten = false;
    this.#sawVideoKey = false;
    this.#dropVideo = false;
    this.#discardPending();
    this.#stats.bytesIn = 0;
    const extra = this.#streamQuery?.() ?? '';
    const base = this.#target.streamName;
    this.#publishName = extra === '' ? base : `${base}${base.includes('?') ? '&' : '?'}${extra}`;
    this.#session = new PublishSession(
      { target: t, publishName: this.#publishName, stripSetDataFrame: this.#stripSetDataFrame },
      {
        send: (bytes) => this.#write(bytes),
        negotiating: () => {
          this.#phase = nextPhase(this.#phase, 'negotiating');
        },
        publishStart: () => this.#onPublishStart(),
        refused: (reason) => this.#fail(reason, true),
      },
    );
    const socket = t.secure
      ? tls.connect({
          host: t.host, port: t.port, servername: net.isIP(t.host) === 0 ? t.host : undefined,
          ...(this.#tls?.ca !== undefined ? { ca: this.#tls.ca } : {}),
          rejectUnauthorized: this.#tls?.rejectUnauthorized ?? true,
        })
      : net.connect({ host: t.host, port: t.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.once(t.secure ? 'secureConnect' : 'connect', () => {
      if (socket === this.#socket) this.#onConnected();
    });
    socket.on('data', (data: Buffer) => {
      if (socket === this.#socket) this.#onData(data);
    });
    socket.on('error', (err: Error) => {
      if (socket === this.#socket) this.#lastError = err.message;
    });
    socket.once('close', () => {
      if (socket === this.#socket) this.#onClose();
    });
    this.#timer = setTimeout(() => {
      this.#fail(`timeout after ${this.#connectTimeoutMs} ms (${this.#phase})`);
    }, this.#connectTimeoutMs);
    this.#log.debug('RTMP connecting');
  }

  /**
   * Replaces the tags sent first on every connection (metadata, then video
   * and audio sequence headers); a header missing from `headers` is not sent
   * any more. While publishing, the ones that changed go out at once.
   */
  setHeaders(headers: { metadata?: FlvTag; video?: FlvTag; audio?: FlvTag }): void {
    const before = this.#headers;
    this.#headers = { ...headers };
    if (this.#phase !== 'publishing') return;
    for (const k of ['metadata', 'video', 'audio'] as const) {
      const tag = headers[k];
      if (tag !== undefined && tag !== before[k]) this.#send(tag);
    }
  }

  /**
   * Queues a tag. Dropped when not publishing. Video waits for a keyframe; so
   * does audio when a video header is set (each connection starts on a
   * keyframe). When the socket backlog passes the limit, video is dropped up
   * to the next keyframe; audio only past four times the limit.
   */
  write(tag: FlvTag): void {
    if (this.#phase !== 'publishing') return;
    if (tag.type === 'script' || isSequenceHeader(tag)) {
      this.#send(tag);
      return;
    }
    const queued = this.queuedBytes;
    if (tag.type === 'video') {
      if (tag.key) {
        this.#dropVideo = queued > this.#maxQueue;
        if (!this.#dropVideo) this.#sawVideoKey = true;
      } else if (!this.#dropVideo && queued > this.#maxQueue) {
        this.#dropVideo = true;
      }
      if (this.#dropVideo || !this.#sawVideoKey) {
        this.#stats.videoDropped++;
        return;
      }
    } else if ((this.#headers.video !== undefined && !this.#sawVideoKey) || queued > 4 * this.#maxQueue) {
      this.#stats.audioDropped++;
      return;
    }
    this.#send(tag);
    if (!this.#mediaWritten) {
      this.#mediaWritten = true;
      this.#setStatus('active', undefined);
    }
  }

  /** Unpublishes (FCUnpublish, deleteStream) when publishing, ends the socket, resolves once it is closed. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const wasPublishing = this.#phase === 'publishing';
    this.#phase = nextPhase(this.#phase, 'closed');
    this.#clearTimer();
    this.#session?.stop();
    if (!wasPublishing) this.#discardPending();
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) {
      if (wasPublishing) this.#session?.unpublish();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
        socket.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        socket.end();
      });
    }
    this.#log.debug('RTMP publisher closed');
    this.emit('closed');
  }

  #onConnected(): void {
    this.#phase = nextPhase(this.#phase, 'handshaking');
    (this.#session as PublishSession).start();
  }

  #onData(data: Buffer): void {
    this.#stats.bytesIn += data.length;
    try {
      (this.#session as PublishSession).push(data);
    } catch (error) {
      // Whatever a server's bytes do to the parsing costs this target, never the call.
      if (!(error instanceof ParseError)) this.#log.error({ err: error }, 'RTMP: unexpected error on server input');
      const reason = `protocol error: ${(error as Error).message}`;
      // An established publish broken by the server is a dropped connection
      // (SPEC §2.7 LOST → the reconnect policy); before that, a failed attempt.
      if (this.#phase === 'publishing') this.#lose(reason);
      else this.#fail(reason);
    }
  }

  /** Drops a publishing connection ourselves: LOST, as if the server had closed it. */
  #lose(reason: string): void {
    this.#discardPending();
    this.#phase = nextPhase(this.#phase, 'lost');
    this.#session?.stop();
    this.#clearTimer();
    this.#socket?.destroy();
    this.#log.warn({ reason }, 'RTMP connection lost');
    this.#setStatus('lost', reason);
  }

  #onPublishStart(): void {
    if (this.#phase !== 'negotiating') return;
    this.#clearTimer();
    this.#phase = nextPhase(this.#phase, 'publishing');
    this.#publishStartAt = Date.now();
    this.#log.info('RTMP publish accepted');
    const h = this.#headers;
    if (h.metadata) this.#send(h.metadata);
    if (h.video) this.#send(h.video);
    if (h.audio) this.#send(h.audio);
    this.emit('publishing');
  }

  /** Socket closed under us. */
  #onClose(): void {
    this.#clearTimer();
    const reason = this.#lastError ?? 'connection closed by server';
    // Media may already be out (a fan-out replays its GOP cache at once), so only the time counts.
    if (this.#phase === 'publishing' && Date.now() - this.#publishStartAt < REFUSAL_WINDOW_MS) {
      this.#fail(`${reason} right after publish was accepted (stream refused)`, true);
    } else if (this.#phase === 'publishing') {
      this.#lose(reason);
    } else if (this.#phase === 'negotiating' && this.#session?.publishSent === true) {
      // Servers that refuse a publish (nginx-rtmp on_publish answered non-2xx) just close.
      this.#fail(`${reason} after publish was sent (stream refused)`, true);
    } else if (this.#phase === 'connecting' || this.#phase === 'handshaking' || this.#phase === 'negotiating') {
      this.#fail(reason);
    }
  }

  #fail(reason: string, refused = false): void {
    if (this.#phase === 'failed' || this.#phase === 'lost' || this.#phase === 'closed' || this.#phase === 'idle') return;
    this.#phase = nextPhase(this.#phase, 'failed');
    this.#discardPending();
    this.#session?.stop();
    this.#clearTimer();
    this.#socket?.destroy();
    this.#log.warn({ reason, refused }, 'RTMP connection failed');
    this.#setStatus('failed', reason);
    this.emit('attemptFailed', reason, refused);
  }

  #setStatus(status: PublisherStatus, reason: string | undefined): void {
    if (status === this.#status) return;
    this.#status = status;
    this.emit('status', status, reason);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #send(tag: FlvTag): void {
    this.#stats.tagsWritten++;
    const sink = this.#batchSink();
    this.#session?.sendTag(tag, sink);
    if (sink !== undefined) this.#gathered(sink);
  }

  #write(buf: Buffer): void {
    const sink = this.#batchSink();
    if (sink !== undefined) {
      sink.append(buf);
      this.#gathered(sink);
      return;
    }
    this.flush(); // what was gathered goes first (unpublish after the last tags)
    this.#writeNow(buf);
  }

  /** Where to encode while batching and publishing (tags go straight in: no buffer of their own). */
  #batchSink(): ByteSink | undefined {
    if (this.#batch === undefined || this.#phase !== 'publishing') return undefined;
    this.#pending ??= new ByteSink(Math.max(16 * 1024, Math.ceil(this.#lastBatchBytes * 1.25)));
    return this.#pending;
  }

  #gathered(sink: ByteSink): void {
    if (sink.used >= BATCH_MAX_BYTES) this.flush();
    else this.#batch?.schedule(this);
  }

  /** Writes what was gathered, as one buffer (BatchedWriter; called by the batch tick). */
  flush(): void {
    const sink = this.#pending;
    if (sink === undefined || sink.used === 0) return;
    this.#lastBatchBytes = sink.used;
    this.#discardPending();
    this.#writeNow(sink.bytes());
  }

  #discardPending(): void {
    this.#pending = undefined;
    this.#batch?.cancel(this);
  }

  #writeNow(buf: Buffer): void {
    const s = this.#socket;
    if (s === undefined || s.destroyed || s.writableEnded) return;
    this.#stats.bytesOut += buf.length;
    s.write(buf);
  }
}
