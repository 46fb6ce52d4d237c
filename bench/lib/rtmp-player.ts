/**
 * A minimal RTMP player for the concurrent-calls bench: connects to an RTMP
 * server (nginx-rtmp), plays one stream and notes when each video message
 * arrives (wall clock, `Date.now()`, the clock tcpdump stamps packets with).
 *
 * It may start playing before the stream is published: nginx-rtmp keeps an
 * idle player subscribed (`idle_streams on`, its default) and sends it the
 * stream from the publisher's first message. So the first keyframe this
 * player sees is the first keyframe nginx received, a few hundred µs later
 * on loopback — no reader buffering in between (an ffmpeg reader would add
 * its probing and muxer buffering).
 *
 * Reuses the gateway's pure RTMP codecs (handshake, chunk stream, AMF0);
 * only the socket and the play command sequence (RTMP spec 1.0 §7.2.1.1
 * connect, §7.2.1.3 createStream, §7.2.2.1 play) live here.
 */
import net from 'node:net';
import { ChunkDecoder, ChunkEncoder, HandshakeClient, MSG } from '../../src/rtmp/index.js';
import { decodeAmf0, encodeAmf0 } from '../../src/pipeline/index.js';

/** One video message as received. */
export interface PlayedVideoTag {
  /** RTMP (= FLV) timestamp, ms. */
  ts: number;
  /** Arrival, `Date.now()` ms. */
  atMs: number;
  /** FLV frame type 1 (keyframe), sequence headers excluded. */
  key: boolean;
}

/** A running player. */
export interface RtmpPlayer {
  /** Video messages (sequence headers excluded) seen while `keepTags`. */
  readonly tags: PlayedVideoTag[];
  /** `Date.now()` of the first video keyframe (not a sequence header); null until then. */
  readonly firstKeyAtMs: number | null;
  /** Video bytes received (FLV video payloads, sequence headers included). */
  readonly videoBytes: number;
  /** Resolves once the play command is sent (the player is subscribed). */
  readonly ready: Promise<void>;
  /** Stops keeping tags (first keyframe is still noted). */
  stopKeepingTags(): void;
  /** Closes the socket. Idempotent. */
  close(): void;
}

const CS_COMMAND = 3;
const CS_STREAM = 8;
const TX_CONNECT = 1;
const TX_CREATE = 2;

/**
 * Plays `rtmp://127.0.0.1:<port>/<app>/<stream>`. `keepTags` false keeps
 * only the first keyframe time (for calls whose latency is not sampled).
 */
export function playRtmp(rtmpUrl: string, stream: string, opts: { keepTags?: boolean } = {}): RtmpPlayer {
  const u = new URL(rtmpUrl);
  const app = u.pathname.replace(/^\//, '');
  const port = Number(u.port || 1935);
  const sock = net.connect({ host: u.hostname, port });
  sock.setNoDelay(true);
  const hs = new HandshakeClient();
  const dec = new ChunkDecoder();
  const enc = new ChunkEncoder(128);
  let handshaken = false;
  let keep = opts.keepTags ?? true;
  let closed = false;
  let bytesIn = 0;
  let ackWindow = 0;
  let ackedAt = 0;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => undefined);
  const player = {
    tags: [] as PlayedVideoTag[],
    firstKeyAtMs: null as number | null,
    videoBytes: 0,
    ready,
    stopKeepingTags(): void {
      keep = false;
    },
    close(): void {
      if (closed) return;
      closed = true;
      sock.destroy();
    },
  };
  const command = (csid: number, streamId: number, payload: Buffer): void => {
    sock.write(enc.encode(csid, MSG.commandAmf0, streamId, 0, payload));
  };
  const onMessage = (type: number, payload: Buffer): void => {
    if (type === MSG.video) {
      const at = Date.now();
      player.videoBytes += payload.length;
      if (payload.length < 2) return;
      const key = payload[0]! >> 4 === 1;
      // AVCPacketType 0 is the sequence header (FLV spec, VIDEODATA / AVCVIDEOPACKET).
      if ((payload[0]! & 0x0f) === 7 && payload[1] === 0) return;
      if (key && player.firstKeyAtMs === null) player.firstKeyAtMs = at;
      return;
    }
    if (type === MSG.windowAckSize && payload.length >= 4) {
      ackWindow = payload.readUInt32BE(0);
      return;
    }
    if (type !== MSG.commandAmf0) return;
    const [name, tx, , info] = decodeAmf0(payload);
    if (name === '_result' && tx === TX_CONNECT) {
      command(CS_COMMAND, 0, encodeAmf0('createStream', TX_CREATE, null));
    } else if (name === '_result' && tx === TX_CREATE) {
      const streamId = typeof info === 'number' ? info : 1;
      // play(name, start -1: live only) — §7.2.2.1.
      command(CS_STREAM, streamId, encodeAmf0('play', 0, null, stream, -1));
      readyResolve();
    } else if (name === '_error') {
      readyReject(new Error(`RTMP play ${stream}: _error ${JSON.stringify(info)}`));
    }
  };
  sock.on('connect', () => sock.write(hs.start()));
  sock.on('data', (data: Buffer) => {
    bytesIn += data.length;
    let rest = data;
    if (!handshaken) {
      const step = hs.push(data);
      if (step.send) sock.write(step.send);
      if (!step.done) return;
      handshaken = true;
      command(CS_COMMAND, 0, encodeAmf0('connect', TX_CONNECT, {
        app, tcUrl: rtmpUrl, flashVer: 'LNX 9,0,124,2', fpad: false, capabilities: 15,
        audioCodecs: 0x0fff, videoCodecs: 0x00ff, videoFunction: 1,
      }));
      rest = step.rest;
      if (rest.length === 0) return;
    }
    for (const m of dec.push(rest)) {
      if (m.type === MSG.video && keep && m.payload.length >= 2 && !((m.payload[0]! & 0x0f) === 7 && m.payload[1] === 0)) {
        player.tags.push({ ts: m.timestamp, atMs: Date.now(), key: m.payload[0]! >> 4 === 1 });
      }
      onMessage(m.type, m.payload);
    }
    // Acknowledgement every window (§5.4.3), as players do.
    if (ackWindow > 0 && bytesIn - ackedAt >= ackWindow) {
      ackedAt = bytesIn;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(bytesIn >>> 0);
      sock.write(enc.encode(2, MSG.acknowledgement, 0, 0, b));
    }
  });
  sock.on('error', (e) => readyReject(e));
  sock.on('close', () => readyReject(new Error(`RTMP play ${stream}: connection closed`)));
  return player;
}
