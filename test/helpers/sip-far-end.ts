/** A tiny UDP "far end" for SIP tests: receives, parses and queues messages; sends raw text or messages. */
import { createSocket, type Socket } from 'node:dgram';
import { parseMessage, serializeMessage, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message.js';

export interface Received {
  msg: SipMessage;
  at: number;
  from: { host: string; port: number };
}

export class FarEnd {
  readonly received: Received[] = [];
  readonly #socket: Socket;
  #waiters: Array<() => void> = [];
  #cursor = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (buf, rinfo) => {
      try {
        this.received.push({ msg: parseMessage(buf), at: Date.now(), from: { host: rinfo.address, port: rinfo.port } });
      } catch {
        return;
      }
      const w = this.#waiters;
      this.#waiters = [];
      for (const f of w) f();
    });
  }

  static async open(): Promise<FarEnd> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new FarEnd(s);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  get address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  /** The next message not yet consumed, waiting up to `ms`. */
  async next(ms = 2000): Promise<Received> {
    const deadline = Date.now() + ms;
    while (this.#cursor >= this.received.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('far end: no message in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const r = this.received[this.#cursor++];
    if (!r) throw new Error('unreachable');
    return r;
  }

  /** Next request with this method (skipping others, e.g. retransmissions). */
  async nextRequest(method: string, ms = 2000): Promise<SipRequest & { from: Received['from'] }> {
    for (;;) {
      const r = await this.next(ms);
      if (r.msg.type === 'request' && r.msg.method === method) return Object.assign(r.msg, { from: r.from });
    }
  }

  /** Next response with this status. */
  async nextResponse(status: number, ms = 2000): Promise<SipResponse> {
    for (;;) {
      const r = await this.next(ms);
      if (r.msg.type === 'response' && r.msg.status === status) return r.msg;
    }
  }

  send(msg: SipMessage | string, to: { host: string; port: number }): Promise<void> {
    const data = typeof msg === 'string' ? Buffer.from(msg.replace(/\r?\n/g, '\r\n')) : serializeMessage(msg);
    return new Promise((resolve, reject) => this.#socket.send(data, to.port, to.host, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
