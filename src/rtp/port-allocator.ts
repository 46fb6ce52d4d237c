import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { UnavailableError } from '../shared/index.js';

/** A bound RTP/RTCP socket pair (RFC 3550 §11: RTP on an even port, RTCP on the next). */
export interface RtpSocketPair {
  rtpPort: number;
  rtcpPort: number;
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
  /** Closes both sockets; idempotent. */
  close(): void;
}

export interface PortAllocatorOptions {
  min: number;
  max: number;
  host: string;
  /** Kernel receive buffer per socket; video bursts of an IDR overflow the default. Default 1 MiB. */
  recvBufferSize?: number;
}

/** A released pair is not handed out again for this long (late packets of the old call may still arrive), unless nothing else is free. */
const REUSE_AFTER_MS = 5000;

/**
 * Hands out UDP port pairs from a range. The kernel is the arbiter of what is
 * free (a bind that fails moves on to the next pair), so concurrent calls and
 * other processes on the range are safe. The search starts at a random pair
 * (a stranger cannot guess the next call's ports to inject RTP before the far
 * end's) and skips pairs released in the last few seconds.
 */
export class PortAllocator {
  readonly #min: number;
  readonly #max: number;
  readonly #host: string;
  readonly #recvBufferSize: number;
  /** RTP port → when its pair was released. */
  readonly #released = new Map<number, number>();

  constructor(opts: PortAllocatorOptions) {
    const min = opts.min + (opts.min & 1);
    if (!Number.isInteger(opts.min) || !Number.isInteger(opts.max) || min < 1 || opts.max > 65535 || min + 1 > opts.max) {
      throw new RangeError(`invalid RTP port range ${opts.min}-${opts.max}`);
    }
    this.#min = min;
    this.#max = opts.max;
    this.#host = opts.host;
    this.#recvBufferSize = opts.recvBufferSize ?? 1 << 20;
  }

  /** Number of pairs in the range. */
  get size(): number {
    return Math.floor((this.#max - this.#min + 1) / 2);
  }

  /**
   * Binds a UDP pair (RTP even, RTCP odd) on host; tries the next pair when busy.
   * @throws UnavailableError when every pair of the range is busy.
   */
  async allocate(): Promise<RtpSocketPair> {
    const pairs = this.size;
    const now = Date.now();
    for (const [port, at] of this.#released) if (now - at >= REUSE_AFTER_MS) this.#released.delete(port);
    const start = randomInt(pairs);
    // First pass: pairs not released lately; second pass: any pair.
    for (const fresh of [true, false]) {
      for (let i = 0; i < pairs; i++) {
        const port = this.#min + 2 * ((start + i) % pairs);
        if (this.#released.has(port) === fresh) continue;
        const rtp = await this.#bind(port);
        if (rtp === null) continue;
        const rtcp = await this.#bind(port + 1);
        if (rtcp === null) {
          rtp.close();
          continue;
        }
        this.#released.delete(port);
        return makePair(port, rtp, rtcp, () => this.#released.set(port, Date.now()));
      }
    }
    throw new UnavailableError(`no free RTP port pair in ${this.#min}-${this.#max} on ${this.#host}`);
  }

  #bind(port: number): Promise<dgram.Socket | null> {
    return new Promise((resolve) => {
      const sock = dgram.createSocket({ type: isIPv6(this.#host) ? 'udp6' : 'udp4' });
      const onError = (): void => {
        sock.close();
        resolve(null);
      };
      sock.once('error', onError);
      sock.bind({ port, address: this.#host, exclusive: true }, () => {
        sock.off('error', onError);
        try {
          sock.setRecvBufferSize(this.#recvBufferSize);
        } catch {
          // The kernel may cap it (net.core.rmem_max); the default still works.
        }
        resolve(sock);
      });
    });
  }
}

function makePair(port: number, rtp: dgram.Socket, rtcp: dgram.Socket, onClose: () => void): RtpSocketPair {
  let closed = false;
  return {
    rtpPort: port,
    rtcpPort: port + 1,
    rtp,
    rtcp,
    close(): void {
      if (closed) return;
      closed = true;
      rtp.close();
      rtcp.close();
      onClose();
    },
  };
}
