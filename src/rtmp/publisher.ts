/**
 * RTMP(S) publisher: the socket shell around the pure handshake, chunk, AMF0
 * and FLV code. One instance publishes one stream to one server; the call
 * layer fans the same FlvTag objects out to several instances.
 *
 * Command sequence (what FMLE/OBS/FFmpeg send, and what Wowza, nginx-rtmp,
 * node-media-server, YouTube and Facebook accept):
 *   connect → _result, releaseStream, FCPublish, createStream → _result(streamId),
 *   publish(name, 'live') → onStatus NetStream.Publish.Start,
 *   then @setDataFrame onMetaData, sequence headers, media.
 */
import net from 'node:net';
import tls from 'node:tls';
import { TypedEmitter, ParseError, type Logger } from '../shared/index.js';
import { encodeAmf0 } from './amf0.js';
import { ChunkDecoder, ChunkEncoder, MSG, type RtmpMessage } from './chunk.js';
import { isSequenceHeader, type FlvTag } from './flv.js';
import { HandshakeClient } from './handshake.js';
import {
  USER_CONTROL, acknowledgementPayload, parseCommand, parseU32, parseUserControl, setChunkSizePayload,
  statusInfo, userControlPayload, windowAckSizePayload, type RtmpCommand,
} from './messages.js';
import { nextPhase, type PublisherPhase } from './publisher-state.js';
import { parseRtmpUrl, type RtmpTarget } from './url.js';

export type RtmpStreamStatus = 'RTMP_STREAM_WAIT' | 'RTMP_STREAM_ACTIVE' | 'RTMP_CONNECTION_LOST' | 'RTMP_CONNECTION_FAILED';

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
}

/** Counters for metrics. */
export interface RtmpPublisherStats {
  bytesOut: number;
  bytesIn: number;
  tagsWritten: number;
  videoDropped: number;
  audioDropped: number;
}

/** Our outgoing chunk size: large enough that most audio frames fit one chunk. */
const OUT_CHUNK_SIZE = 4096;
/**
 * What a server may make a publisher hold (it only sends commands, acks and
 * control messages): a server past these caps fails its target only.
 */
export const SERVER_LIMITS = { maxMessageSize: 1024 * 1024, maxChunkStreams: 16, maxChunkSize: 1024 * 1024 } as const;
// Chunk stream ids: 2 is reserved for protocol control (§5.4); the rest follow FFmpeg's layout.
const CS_CONTROL = 2;
const CS_COMMAND = 3;
const CS_AUDIO = 4;
const CS_STREAM = 5;
const CS_VIDEO = 6;
const TX_CONNECT = 1;
const TX_RELEASE = 2;
const TX_FCPUBLISH = 3;
const TX_CREATE = 4;
const TX_PUBLISH = 5;
const CLOSE_GRACE_MS = 2000;
/** AMF0 string '@setDataFrame' (marker 0x02, u16 length 13): the prefix of a publisher's metadata message. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');
/**
 * Some servers (node-media-server among them) answer NetStream.Publish.Start
 * and only then check the name, closing the socket at once when it is taken
 * or invalid. A close this soon after the answer, before any media went out,
 * is a refusal (FAILED), not a lost connection worth reconnecting to.
 */
const REFUSAL_WINDOW_MS = 1000;

/**
 * Publishes FLV tags to an RTMP server. Status: `RTMP_STREAM_WAIT` until the
 * publish is accepted and the first media tag is written (`RTMP_STREAM_ACTIVE`);
 * a failure to connect or publish is `RTMP_CONNECTION_FAILED`; an accepted
 * publish whose connection drops is `RTMP_CONNECTION_LOST` (but a close within
 * 1 s of the accept is a refusal: FAILED). No retry here (see PublisherSupervisor):
 * `start()` may be called again after FAILED or LOST.
 */
export class RtmpPublisher extends TypedEmitter<{
  status: [status: RtmpStreamStatus, reason: string | undefined];
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
}> {
  readonly #log: Logger;
  readonly #target: RtmpTarget;
  readonly #connectTimeoutMs: number;
  readonly #maxQueue: number;
  readonly #tls: { ca?: string | Buffer; rejectUnauthorized?: boolean } | undefined;
  readonly #streamQuery: (() => string) | undefined;
  readonly #stripSetDataFrame: boolean;
  /** The name given to publish on this connection (the target's, plus a fresh streamQuery). */
  #publishName = '';
  #publishSent = false;
  #phase: PublisherPhase = 'idle';
  #status: RtmpStreamStatus = 'RTMP_STREAM_WAIT';
  #socket: net.Socket | undefined;
  #hs: HandshakeClient | undefined;
  #dec = new ChunkDecoder(SERVER_LIMITS);
  #enc = new ChunkEncoder();
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | undefined;
  #streamId = 0;
  #headers: { metadata?: FlvTag; video?: FlvTag; audio?: FlvTag } = {};
  #mediaWritten = false;
  #publishStartAt = 0;
  #sawVideoKey = false;
  #dropVideo = false;
  #ackWindow = 0;
  #ackedAt = 0;
  #sentWindow = 0;
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
    this.#publishName = this.#target.streamName;
  }

  /** Host, port and app, without the key (safe to log). */
  get endpoint(): string {
    const t = this.#target;
    return `${t.secure ? 'rtmps' : 'rtmp'}://${t.host}:${t.port}/${t.app}`;
  }

  get status(): RtmpStreamStatus {
    return this.#status;
  }

  /** Internal connection phase (for tests and diagnostics). */
  get phase(): PublisherPhase {
    return this.#phase;
  }

  get stats(): Readonly<RtmpPublisherStats> {
    return this.#stats;
  }

  /** Bytes written but not yet taken by the kernel (the per-target queue that is bounded). */
  get queuedBytes(): number {
    return this.#socket?.writableLength ?? 0;
  }

  /** Connects and publishes. Allowed when idle, or again after FAILED/LOST. */
  start(): void {
    this.#phase = nextPhase(this.#phase, 'connecting');
    const t = this.#target;
    this.#dec = new ChunkDecoder(SERVER_LIMITS);
    this.#enc = new ChunkEncoder();
    this.#hs = undefined;
    this.#lastError = undefined;
    this.#streamId = 0;
    this.#mediaWritten = false;
    this.#sawVideoKey = false;
    this.#dropVideo = false;
    this.#ackWindow = 0;
    this.#ackedAt = 0;
    this.#sentWindow = 0;
    this.#publishSent = false;
    this.#stats.bytesIn = 0;
    const extra = this.#streamQuery?.() ?? '';
    const base = this.#target.streamName;
    this.#publishName = extra === '' ? base : `${base}${base.includes('?') ? '&' : '?'}${extra}`;
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
    const socket = this.#socket as net.Socket;
    if (tag.type === 'script' || isSequenceHeader(tag)) {
      this.#send(tag);
      return;
    }
    if (tag.type === 'video') {
      if (tag.key) {
        this.#dropVideo = socket.writableLength > this.#maxQueue;
        if (!this.#dropVideo) this.#sawVideoKey = true;
      } else if (!this.#dropVideo && socket.writableLength > this.#maxQueue) {
        this.#dropVideo = true;
      }
      if (this.#dropVideo || !this.#sawVideoKey) {
        this.#stats.videoDropped++;
        return;
      }
    } else if ((this.#headers.video !== undefined && !this.#sawVideoKey) || socket.writableLength > 4 * this.#maxQueue) {
      this.#stats.audioDropped++;
      return;
    }
    this.#send(tag);
    if (!this.#mediaWritten) {
      this.#mediaWritten = true;
      this.#setStatus('RTMP_STREAM_ACTIVE', undefined);
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
    const socket = this.#socket;
    if (socket !== undefined && !socket.destroyed) {
      if (wasPublishing) {
        const name = this.#publishName;
        this.#command(CS_COMMAND, 0, encodeAmf0('FCUnpublish', 6, null, name));
        this.#command(CS_COMMAND, 0, encodeAmf0('deleteStream', 7, null, this.#streamId));
      }
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
    this.#hs = new HandshakeClient();
    this.#write(this.#hs.start());
  }

  #onData(data: Buffer): void {
    this.#stats.bytesIn += data.length;
    try {
      let chunkData: Buffer = data;
      if (this.#phase === 'handshaking') {
        const step = (this.#hs as HandshakeClient).push(data);
        if (step.send) this.#write(step.send);
        if (!step.done) return;
        this.#hs = undefined;
        this.#phase = nextPhase(this.#phase, 'negotiating');
        this.#onHandshakeDone();
        chunkData = step.rest;
        if (chunkData.length === 0) return;
      }
      if (this.#phase !== 'negotiating' && this.#phase !== 'publishing') return;
      const msgs = this.#dec.push(chunkData);
      for (const m of msgs) {
        this.#onMessage(m);
        if (this.#phase !== 'negotiating' && this.#phase !== 'publishing') return;
      }
      // Acknowledge when a window's worth arrived since the last one (§5.4.3).
      if (this.#ackWindow > 0 && this.#stats.bytesIn - this.#ackedAt >= this.#ackWindow) {
        this.#ackedAt = this.#stats.bytesIn;
        this.#control(MSG.acknowledgement, acknowledgementPayload(this.#stats.bytesIn));
      }
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
    this.#phase = nextPhase(this.#phase, 'lost');
    this.#clearTimer();
    this.#socket?.destroy();
    this.#log.warn({ reason }, 'RTMP connection lost');
    this.#setStatus('RTMP_CONNECTION_LOST', reason);
  }

  #onHandshakeDone(): void {
    const t = this.#target;
    this.#control(MSG.setChunkSize, setChunkSizePayload(OUT_CHUNK_SIZE));
    this.#enc.chunkSize = OUT_CHUNK_SIZE;
    this.#command(CS_COMMAND, 0, encodeAmf0('connect', TX_CONNECT, {
      app: t.app,
      type: 'nonprivate',
      flashVer: 'FMLE/3.0',
      swfUrl: t.tcUrl,
      tcUrl: t.tcUrl,
    }));
  }

  #onMessage(m: RtmpMessage): void {
    switch (m.type) {
      case MSG.windowAckSize:
        this.#ackWindow = parseU32(m.payload, 'Window Acknowledgement Size');
        break;
      case MSG.setPeerBandwidth: {
        // Answer with our window when it differs from the last one sent (§5.4.5).
        const size = parseU32(m.payload, 'Set Peer Bandwidth');
        if (size !== this.#sentWindow) {
          this.#sentWindow = size;
          this.#control(MSG.windowAckSize, windowAckSizePayload(size));
        }
        break;
      }
      case MSG.userControl: {
        const uc = parseUserControl(m.payload);
        if (uc.event === USER_CONTROL.pingRequest) {
          this.#control(MSG.userControl, userControlPayload(USER_CONTROL.pingResponse, uc.value));
        }
        break;
      }
      case MSG.commandAmf0:
        this.#onCommand(parseCommand(m.payload));
        break;
      case MSG.commandAmf3:
        this.#onCommand(parseCommand(m.payload.subarray(1)));
        break;
      default:
        break; // chunk size / abort are handled by the decoder; data messages are not for us
    }
  }

  #onCommand(cmd: RtmpCommand): void {
    const info = statusInfo(cmd);
    switch (cmd.name) {
      case '_result':
        if (cmd.transactionId === TX_CONNECT) {
          if (info !== undefined && info.code !== 'NetConnection.Connect.Success') {
            this.#fail(`${info.code}: ${info.description}`, true);
            return;
          }
          const name = this.#publishName;
          this.#command(CS_COMMAND, 0, encodeAmf0('releaseStream', TX_RELEASE, null, name));
          this.#command(CS_COMMAND, 0, encodeAmf0('FCPublish', TX_FCPUBLISH, null, name));
          this.#command(CS_COMMAND, 0, encodeAmf0('createStream', TX_CREATE, null));
        } else if (cmd.transactionId === TX_CREATE) {
          const id = cmd.args[0];
          if (typeof id !== 'number') {
            this.#fail('createStream answered without a stream id', true);
            return;
          }
          this.#streamId = id;
          this.#publishSent = true;
          this.#command(CS_STREAM, id, encodeAmf0('publish', TX_PUBLISH, null, this.#publishName, 'live'));
        }
        break;
      case '_error':
        // Servers without releaseStream/FCPublish answer them with _error: harmless.
        if (cmd.transactionId === TX_RELEASE || cmd.transactionId === TX_FCPUBLISH) return;
        this.#fail(info ? `${info.code}: ${info.description}` : `_error for transaction ${cmd.transactionId}`, true);
        break;
      case 'onStatus':
        if (info?.code === 'NetStream.Publish.Start') this.#onPublishStart();
        else if (info?.level === 'error') this.#fail(`${info.code}: ${info.description}`, true);
        break;
      case 'onFCPublish':
        if (info?.level === 'error') this.#fail(`${info.code}: ${info.description}`, true);
        break;
      default:
        break;
    }
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
    } else if (this.#phase === 'negotiating' && this.#publishSent) {
      // Servers that refuse a publish (nginx-rtmp on_publish answered non-2xx) just close.
      this.#fail(`${reason} after publish was sent (stream refused)`, true);
    } else if (this.#phase === 'connecting' || this.#phase === 'handshaking' || this.#phase === 'negotiating') {
      this.#fail(reason);
    }
  }

  #fail(reason: string, refused = false): void {
    if (this.#phase === 'failed' || this.#phase === 'lost' || this.#phase === 'closed' || this.#phase === 'idle') return;
    this.#phase = nextPhase(this.#phase, 'failed');
    this.#clearTimer();
    this.#socket?.destroy();
    this.#log.warn({ reason, refused }, 'RTMP connection failed');
    this.#setStatus('RTMP_CONNECTION_FAILED', reason);
    this.emit('attemptFailed', reason, refused);
  }

  #setStatus(status: RtmpStreamStatus, reason: string | undefined): void {
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
    let csid: number;
    let type: number;
    if (tag.type === 'video') {
      csid = CS_VIDEO;
      type = MSG.video;
    } else if (tag.type === 'audio') {
      csid = CS_AUDIO;
      type = MSG.audio;
    } else {
      csid = CS_STREAM;
      type = MSG.dataAmf0;
      if (this.#stripSetDataFrame && tag.data.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) {
        this.#stats.tagsWritten++;
        this.#write(this.#enc.encode(csid, type, this.#streamId, tag.timestamp, tag.data.subarray(SET_DATA_FRAME.length)));
        return;
      }
    }
    this.#stats.tagsWritten++;
    this.#write(this.#enc.encode(csid, type, this.#streamId, tag.timestamp, tag.data));
  }

  #control(type: number, payload: Buffer): void {
    this.#write(this.#enc.encode(CS_CONTROL, type, 0, 0, payload));
  }

  #command(csid: number, streamId: number, body: Buffer): void {
    this.#write(this.#enc.encode(csid, MSG.commandAmf0, streamId, 0, body));
  }

  #write(buf: Buffer): void {
    const s = this.#socket;
    if (s === undefined || s.destroyed || s.writableEnded) return;
    this.#stats.bytesOut += buf.length;
    s.write(buf);
  }
}
