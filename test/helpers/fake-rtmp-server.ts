/**
 * A scripted RTMP server for unit tests, on 127.0.0.1: completes the
 * handshake, decodes chunks, and lets a script answer commands. It can stop
 * listening (dropping its connections) and listen again on the same port, to
 * play a server that goes away and comes back.
 */
import net from 'node:net';
import { ChunkDecoder, ChunkEncoder, MSG, type RtmpMessage } from '../../src/rtmp/chunk.js';
import { encodeAmf0 } from '../../src/pipeline/amf0.js';
import { parseCommand, type RtmpCommand } from '../../src/rtmp/messages.js';

export interface FakeConn {
  socket: net.Socket;
  send(csid: number, type: number, streamId: number, payload: Buffer): void;
  messages: RtmpMessage[];
}

export type Script = (cmd: RtmpCommand, conn: FakeConn) => void;

export const result = (tid: number, info: unknown): Buffer => encodeAmf0('_result', tid, null, info as null);
export const onStatus = (code: string, level = 'status'): Buffer => encodeAmf0('onStatus', 0, null, { level, code, description: code });

/** Accepts connect, createStream and publish, like a well-behaved server. */
export const accepting: Script = (cmd, c) => {
  if (cmd.name === 'connect') c.send(3, MSG.commandAmf0, 0, result(cmd.transactionId, { level: 'status', code: 'NetConnection.Connect.Success' }));
  if (cmd.name === 'createStream') c.send(3, MSG.commandAmf0, 0, result(cmd.transactionId, 1));
  if (cmd.name === 'publish') c.send(5, MSG.commandAmf0, 1, onStatus('NetStream.Publish.Start'));
};

/** Answers publish with NetStream.Publish.BadName (a refused key). */
export const refusing: Script = (cmd, c) => {
  if (cmd.name === 'publish') c.send(5, MSG.commandAmf0, 1, onStatus('NetStream.Publish.BadName', 'error'));
  else accepting(cmd, c);
};

export class FakeRtmpServer {
  readonly conns: FakeConn[] = [];
  #server: net.Server | undefined;
  #sockets = new Set<net.Socket>();
  port = 0;
  script: Script;

  constructor(script: Script = accepting) {
    this.script = script;
  }

  /** Listens (on the same port as before when restarted). */
  async listen(): Promise<number> {
    const server = net.createServer((socket) => this.#onConnection(socket));
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.#server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    const srv = this.#server;
    this.#server = undefined;
    if (srv) await new Promise((r) => srv.close(r));
  }

  /** Drops every connection and keeps listening (a server that closed its publishers). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /** Media messages (audio/video) of connection `i`. */
  media(i: number): RtmpMessage[] {
    return (this.conns[i]?.messages ?? []).filter((m) => m.type === MSG.audio || m.type === MSG.video);
  }

  #onConnection(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const enc = new ChunkEncoder();
    const dec = new ChunkDecoder();
    const conn: FakeConn = {
      socket,
      messages: [],
      send: (csid, type, streamId, payload) => socket.write(enc.encode(csid, type, streamId, 0, payload)),
    };
    this.conns.push(conn);
    let hs = Buffer.alloc(0);
    let done = false;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (!done) {
        hs = Buffer.concat([hs, d]);
        if (hs.length >= 1537 && hs.length - d.length < 1537) {
          socket.write(Buffer.concat([Buffer.of(3), Buffer.alloc(1536, 1), hs.subarray(1, 1537)]));
        }
        if (hs.length < 1537 + 1536) return;
        done = true;
        d = hs.subarray(1537 + 1536);
        if (d.length === 0) return;
      }
      for (const m of dec.push(d)) {
        conn.messages.push(m);
        if (m.type === MSG.commandAmf0) this.script(parseCommand(m.payload), conn);
      }
    });
  }
}
