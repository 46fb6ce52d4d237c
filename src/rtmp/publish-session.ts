/**
 * Pure RTMP publish session for one connection: bytes in → bytes out plus
 * callbacks. No socket, no timer: the shell (publisher.ts) feeds it what the
 * server sent and writes what it hands to `send`.
 *
 * Command sequence (what FMLE/OBS/FFmpeg send, and what Wowza, nginx-rtmp,
 * node-media-server, YouTube and Facebook accept):
 *   connect → _result, releaseStream, FCPublish, createStream → _result(streamId),
 *   publish(name, 'live') → onStatus NetStream.Publish.Start,
 *   then @setDataFrame onMetaData, sequence headers, media.
 */
import { encodeAmf0, type FlvTag } from '../pipeline/index.js';
import { ChunkDecoder, ChunkEncoder, MSG, type ByteSink, type RtmpMessage } from './chunk.js';
import { HandshakeClient } from './handshake.js';
import {
  USER_CONTROL, acknowledgementPayload, parseCommand, parseU32, parseUserControl, setChunkSizePayload,
  statusInfo, userControlPayload, windowAckSizePayload, type RtmpCommand,
} from './messages.js';
import { SERVER_LIMITS } from './server-limits.js';
import type { RtmpTarget } from './url.js';

/** Our outgoing chunk size: large enough that most audio frames fit one chunk. */
export const OUT_CHUNK_SIZE = 4096;
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
/** AMF0 string '@setDataFrame' (marker 0x02, u16 length 13): the prefix of a publisher's metadata message. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');

/**
 * - idle → handshaking: start()
 * - handshaking → negotiating: handshake done (connect goes out)
 * - negotiating → publishing: NetStream.Publish.Start
 * - any → stopped: stop() (the shell failed, lost or closed the connection)
 */
export type PublishSessionState = 'idle' | 'handshaking' | 'negotiating' | 'publishing' | 'stopped';

/** What the session tells its shell, synchronously and in order. */
export interface PublishSessionHooks {
  /** Bytes for the server. */
  send(bytes: Buffer): void;
  /** The handshake is done; the connect command follows at once. */
  negotiating(): void;
  /** NetStream.Publish.Start arrived while negotiating. */
  publishStart(): void;
  /** The server answered and said no (bad key, publish refused, connect rejected). */
  refused(reason: string): void;
}

export interface PublishSessionOptions {
  /** App and tcUrl of the connect command. */
  target: Pick<RtmpTarget, 'app' | 'tcUrl'>;
  /** The name given to publish (and FCPublish/releaseStream/FCUnpublish). */
  publishName: string;
  /** Send `@setDataFrame onMetaData` as a plain `onMetaData` data message. */
  stripSetDataFrame: boolean;
}

/**
 * One connection's protocol state. `push()` throws (ParseError, mostly) on
 * server bytes it cannot take; the shell decides what that costs.
 */
export class PublishSession {
  readonly #opts: PublishSessionOptions;
  readonly #hooks: PublishSessionHooks;
  readonly #dec = new ChunkDecoder(SERVER_LIMITS);
  readonly #enc = new ChunkEncoder();
  #state: PublishSessionState = 'idle';
  #hs: HandshakeClient | undefined;
  #streamId = 0;
  #publishSent = false;
  #bytesIn = 0;
  #ackWindow = 0;
  #ackedAt = 0;
  #sentWindow = 0;

  constructor(opts: PublishSessionOptions, hooks: PublishSessionHooks) {
    this.#opts = opts;
    this.#hooks = hooks;
  }

  get state(): PublishSessionState {
    return this.#state;
  }

  /** Whether publish went out (a close after it, before the answer, is a refusal). */
  get publishSent(): boolean {
    return this.#publishSent;
  }

  /** The stream id createStream answered (0 until then). */
  get streamId(): number {
    return this.#streamId;
  }

  /** Sends C0+C1 (the transport is connected). */
  start(): void {
    this.#state = 'handshaking';
    this.#hs = new HandshakeClient();
    this.#hooks.send(this.#hs.start());
  }

  /** Ignores every later input; nothing more is sent on its own. */
  stop(): void {
    this.#state = 'stopped';
  }

  /** Feeds bytes received from the server. */
  push(data: Buffer): void {
    this.#bytesIn += data.length;
    let chunkData: Buffer = data;
    if (this.#state === 'handshaking') {
      const step = (this.#hs as HandshakeClient).push(data);
      if (step.send) this.#hooks.send(step.send);
      if (!step.done) return;
      this.#hs = undefined;
      this.#state = 'negotiating';
      this.#hooks.negotiating();
      this.#onHandshakeDone();
      chunkData = step.rest;
      if (chunkData.length === 0) return;
    }
    if (!this.#live()) return;
    const msgs = this.#dec.push(chunkData);
    for (const m of msgs) {
      this.#onMessage(m);
      if (!this.#live()) return;
    }
    // Acknowledge when a window's worth arrived since the last one (§5.4.3).
    if (this.#ackWindow > 0 && this.#bytesIn - this.#ackedAt >= this.#ackWindow) {
      this.#ackedAt = this.#bytesIn;
      this.#control(MSG.acknowledgement, acknowledgementPayload(this.#bytesIn));
    }
  }

  /** Encodes one FLV tag as an RTMP message on the published stream: sent, or appended to `sink` (a batch the caller writes). */
  sendTag(tag: FlvTag, sink?: ByteSink): void {
    let csid: number;
    let type: number;
    let data = tag.data;
    if (tag.type === 'video') {
      csid = CS_VIDEO;
      type = MSG.video;
    } else if (tag.type === 'audio') {
      csid = CS_AUDIO;
      type = MSG.audio;
    } else {
      csid = CS_STREAM;
      type = MSG.dataAmf0;
      if (this.#opts.stripSetDataFrame && data.subarray(0, SET_DATA_FRAME.length).equals(SET_DATA_FRAME)) {
        data = data.subarray(SET_DATA_FRAME.length);
      }
    }
    if (sink !== undefined) this.#enc.encodeTo(sink, csid, type, this.#streamId, tag.timestamp, data);
    else this.#hooks.send(this.#enc.encode(csid, type, this.#streamId, tag.timestamp, data));
  }

  /** FCUnpublish and deleteStream (a publishing connection being closed). */
  unpublish(): void {
    this.#command(CS_COMMAND, 0, encodeAmf0('FCUnpublish', 6, null, this.#opts.publishName));
    this.#command(CS_COMMAND, 0, encodeAmf0('deleteStream', 7, null, this.#streamId));
  }

  #live(): boolean {
    return this.#state === 'negotiating' || this.#state === 'publishing';
  }

  #onHandshakeDone(): void {
    const t = this.#opts.target;
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
            this.#hooks.refused(`${info.code}: ${info.description}`);
            return;
          }
          const name = this.#opts.publishName;
          this.#command(CS_COMMAND, 0, encodeAmf0('releaseStream', TX_RELEASE, null, name));
          this.#command(CS_COMMAND, 0, encodeAmf0('FCPublish', TX_FCPUBLISH, null, name));
          this.#command(CS_COMMAND, 0, encodeAmf0('createStream', TX_CREATE, null));
        } else if (cmd.transactionId === TX_CREATE) {
          const id = cmd.args[0];
          if (typeof id !== 'number') {
            this.#hooks.refused('createStream answered without a stream id');
            return;
          }
          this.#streamId = id;
          this.#publishSent = true;
          this.#command(CS_STREAM, id, encodeAmf0('publish', TX_PUBLISH, null, this.#opts.publishName, 'live'));
        }
        break;
      case '_error':
        // Servers without releaseStream/FCPublish answer them with _error: harmless.
        if (cmd.transactionId === TX_RELEASE || cmd.transactionId === TX_FCPUBLISH) return;
        this.#hooks.refused(info ? `${info.code}: ${info.description}` : `_error for transaction ${cmd.transactionId}`);
        break;
      case 'onStatus':
        if (info?.code === 'NetStream.Publish.Start') this.#onPublishStart();
        else if (info?.level === 'error') this.#hooks.refused(`${info.code}: ${info.description}`);
        break;
      case 'onFCPublish':
        if (info?.level === 'error') this.#hooks.refused(`${info.code}: ${info.description}`);
        break;
      default:
        break;
    }
  }

  #onPublishStart(): void {
    if (this.#state !== 'negotiating') return;
    this.#state = 'publishing';
    this.#hooks.publishStart();
  }

  #control(type: number, payload: Buffer): void {
    this.#hooks.send(this.#enc.encode(CS_CONTROL, type, 0, 0, payload));
  }

  #command(csid: number, streamId: number, body: Buffer): void {
    this.#hooks.send(this.#enc.encode(csid, MSG.commandAmf0, streamId, 0, body));
  }
}
