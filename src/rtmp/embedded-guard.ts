/**
 * Guards for two node-media-server 4.4.3 defects that let one connection to
 * the embedded server's RTMP port hurt its whole process (docs/embedded-server.md):
 * - a malformed command (e.g. a truncated AMF0 number) throws out of its
 *   parser, inside the socket's data handler: an uncaught exception;
 * - every announced chunk stream gets a zero-filled payload buffer of the
 *   announced message length, up to 16 MiB, before any byte of it arrives:
 *   a few bytes per chunk-stream id grow the process by gigabytes.
 * Patched on its protocol class, once per process: a parser error ends that
 * connection (node-media-server closes a session whose parser reports an
 * error), and a connection's buffers are capped in count and in bytes. The
 * process isolation of embedded.ts stays as the backstop.
 */
import Rtmp from 'node-media-server/src/protocol/rtmp.js';

/** Largest message a connection may announce (the gateway's own keyframes stay far below). */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** Chunk streams one connection may use (players and the gateway use a handful). */
export const MAX_CHUNK_STREAMS = 32;
/** Payload buffers one connection may hold in all. */
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

type Guarded = Rtmp & { gatewayAllocated?: number; gatewayRefused?: string };

let installed = false;

/** Installs the guards (idempotent). */
export function guardNodeMediaServer(): void {
  if (installed) return;
  installed = true;
  const proto = Rtmp.prototype as Guarded;
  const parserData = proto.parserData;
  const packetAlloc = proto.packetAlloc;
  proto.parserData = function guardedParserData(this: Guarded, data: Buffer): string | null {
    // Once refused, nothing more of this connection is parsed (its session is closing it).
    if (this.gatewayRefused !== undefined) return this.gatewayRefused;
    try {
      return parserData.call(this, data);
    } catch (e) {
      // Returned errors make its session end the connection; a throw would end the process.
      this.gatewayRefused = `malformed RTMP from this connection: ${(e as Error).message}`;
      return this.gatewayRefused;
    }
  };
  proto.packetAlloc = function guardedPacketAlloc(this: Guarded): void {
    const { length } = this.parserPacket.header;
    if (this.parserPacket.capacity >= length) return;
    if (length > MAX_MESSAGE_BYTES) throw new Error(`message of ${length} bytes announced (at most ${MAX_MESSAGE_BYTES})`);
    if (this.inPackets.size > MAX_CHUNK_STREAMS) throw new Error(`more than ${MAX_CHUNK_STREAMS} chunk streams`);
    const total = (this.gatewayAllocated ?? 0) + length;
    if (total > MAX_BUFFERED_BYTES) throw new Error(`more than ${MAX_BUFFERED_BYTES} bytes of message buffers`);
    this.gatewayAllocated = total;
    packetAlloc.call(this);
  };
}
