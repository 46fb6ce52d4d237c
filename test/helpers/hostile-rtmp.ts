/**
 * A hostile RTMP client for the embedded server's port (no real peer sends
 * these bytes on demand): a plain handshake (C0/C1, S0/S1/S2, C2), then
 * whatever chunks a test builds — a command whose AMF0 number is truncated,
 * chunk headers announcing huge messages on many chunk streams.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const HANDSHAKE = 1536;

/** A connection to 127.0.0.1:`port`; `closed` resolves when the server ends it. */
export interface HostileConn {
  sock: net.Socket;
  closed: Promise<void>;
  send(b: Buffer): Promise<void>;
}

export function connect(port: number): Promise<HostileConn> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve({
      sock, closed,
      send: (b) => new Promise((r) => (sock.destroyed ? r() : sock.write(b, () => r()))),
    }));
    sock.once('error', reject);
  });
}

/** Connects and completes the plain RTMP handshake. */
export async function handshake(port: number): Promise<HostileConn> {
  const c = await connect(port);
  let got = Buffer.alloc(0);
  const done = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length >= 1 + 2 * HANDSHAKE) {
        c.sock.off('data', onData);
        resolve();
      }
    };
    c.sock.on('data', onData);
    c.sock.once('close', () => reject(new Error('closed during the handshake')));
  });
  const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(HANDSHAKE - 8)]);
  await c.send(Buffer.concat([Buffer.from([3]), c1]));
  await done;
  await c.send(got.subarray(1, 1 + HANDSHAKE)); // C2 echoes S1
  return c;
}

/** One fmt-0 chunk header (basic header for csid 2..319, 11-byte message header). */
export function chunkHeader(csid: number, length: number, type: number, streamId = 0): Buffer {
  const basic = csid < 64 ? Buffer.from([csid]) : Buffer.from([0, csid - 64]);
  const mh = Buffer.alloc(11);
  mh.writeUIntBE(0, 0, 3);
  mh.writeUIntBE(length, 3, 3);
  mh[6] = type;
  mh.writeUInt32LE(streamId, 7);
  return Buffer.concat([basic, mh]);
}

/**
 * A Set Chunk Size to `size`, then a `length`-byte video message on each
 * csid of `csids` with its whole payload: memory a receiver must really hold
 * (zero-filled buffers alone stay untouched pages; the payload fills them).
 */
export function filledMessages(csids: readonly number[], length: number, size = 0x1000000): Buffer {
  const set = Buffer.alloc(4);
  set.writeUInt32BE(size);
  return Buffer.concat([chunkHeader(2, 4, 1), set, ...csids.flatMap((csid) => [chunkHeader(csid, length, 9, 1), Buffer.alloc(length, 0x17)])]);
}

/** An AMF0 `connect` command whose transaction id (a number) is cut after 3 of its 8 bytes. */
export function truncatedConnect(): Buffer {
  const name = Buffer.from('connect');
  const payload = Buffer.concat([Buffer.from([0x02, 0, name.length]), name, Buffer.from([0x00, 0x3f, 0xf0, 0x00])]);
  return Buffer.concat([chunkHeader(3, payload.length, 20), payload]);
}

/**
 * Chunk headers announcing a `length`-byte video message on each of `count`
 * chunk streams, each followed by one chunk's worth (128 bytes) of payload:
 * a receiver that allocates per announced message allocates count × length.
 */
export function chunkStreamFlood(count: number, length: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) parts.push(chunkHeader(3 + i, length, 9, 1), Buffer.alloc(128, 0x17));
  return Buffer.concat(parts);
}
