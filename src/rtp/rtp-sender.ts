import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import { mediaClockNow } from './media-clock.js';
import { serializeRtpPacket } from './rtp-packet.js';

/** Where outgoing RTP goes; read at every send so a learned address applies at once. */
export type RtpTarget = () => { host: string; port: number } | null;

/**
 * The outgoing RTP stream of a session: owns the SSRC, the sequence number and
 * a timestamp clock that runs with the media clock, so DTMF events and
 * (later) generated silence or slate video share one consistent stream.
 * Initial sequence number and timestamp are random (RFC 3550 §5.1).
 */
export class RtpSender {
  readonly ssrc: number;
  readonly clockRate: number;
  readonly #socket: dgram.Socket;
  readonly #target: RtpTarget;
  #seq: number;
  readonly #tsBase: number;
  readonly #startMs: number;
  packets = 0;
  bytes = 0;

  constructor(socket: dgram.Socket, clockRate: number, target: RtpTarget, ssrc?: number) {
    const r = randomBytes(10);
    this.#socket = socket;
    this.clockRate = clockRate;
    this.#target = target;
    this.ssrc = ssrc ?? r.readUInt32BE(0);
    this.#seq = r.readUInt16BE(4);
    this.#tsBase = r.readUInt32BE(6);
    this.#startMs = mediaClockNow();
  }

  /** The RTP timestamp of "now" on this stream's clock. */
  timestampNow(): number {
    return (this.#tsBase + Math.round(((mediaClockNow() - this.#startMs) * this.clockRate) / 1000)) >>> 0;
  }

  /** The sequence number the next packet will carry. */
  get nextSeq(): number {
    return this.#seq;
  }

  /**
   * Sends one packet with the next sequence number. Returns false when the
   * remote address is not known yet or the socket refuses the send (a
   * closed socket, a bad address): nothing a far end sent can make it throw.
   * Asynchronous socket errors are reported through the socket's 'error' event.
   */
  send(payloadType: number, payload: Buffer, timestamp: number, marker: boolean): boolean {
    const to = this.#target();
    if (to === null) return false;
    const pkt = serializeRtpPacket({ payloadType, marker, seq: this.#seq, timestamp, ssrc: this.ssrc }, payload);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.packets++;
    this.bytes += payload.length;
    try {
      this.#socket.send(pkt, to.port, to.host);
    } catch {
      return false;
    }
    return true;
  }
}
