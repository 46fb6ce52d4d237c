/**
 * A UDP relay that impairs an RTP stream on its way to the gateway: random
 * loss, reordering, duplicates and jitter, from a seeded generator so a run
 * can be repeated. RTCP (port + 1) passes through untouched. It keeps the
 * last packets it saw, lost ones included, so a test can answer the
 * gateway's NACKs as a sender with RFC 4585 retransmission would.
 */
import dgram from 'node:dgram';
import { freeUdpPortRange } from './ports.js';

export interface ImpairmentOptions {
  /** Where to forward: the gateway's RTP port (RTCP to port + 1). */
  target: number;
  /** Probability a packet is dropped, 0..1. */
  loss?: number;
  /** Probability a packet is held back behind the next ones (20-40 ms extra). */
  reorder?: number;
  /** Probability a packet is sent twice. */
  duplicate?: number;
  /** Each packet is delayed uniformly in [0, jitterMs]. */
  jitterMs?: number;
  seed?: number;
}

export interface RelayStats {
  received: number;
  forwarded: number;
  dropped: number;
  reordered: number;
  duplicated: number;
  retransmitted: number;
}

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ImpairmentRelay {
  readonly stats: RelayStats = { received: 0, forwarded: 0, dropped: 0, reordered: 0, duplicated: 0, retransmitted: 0 };
  readonly #rtp = dgram.createSocket('udp4');
  readonly #rtcp = dgram.createSocket('udp4');
  readonly #opts: Required<ImpairmentOptions>;
  readonly #random: () => number;
  readonly #cache = new Map<number, Buffer>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  port = 0;

  private constructor(opts: ImpairmentOptions) {
    this.#opts = { loss: 0, reorder: 0, duplicate: 0, jitterMs: 0, seed: 1, ...opts };
    this.#random = rng(this.#opts.seed);
    this.#rtp.on('message', (m) => this.#onRtp(m));
    this.#rtcp.on('message', (m) => this.#rtcp.send(m, this.#opts.target + 1, '127.0.0.1'));
  }

  /** Binds an RTP/RTCP pair on 127.0.0.1 (`port`, `port + 1`). */
  static async start(opts: ImpairmentOptions): Promise<ImpairmentRelay> {
    const r = new ImpairmentRelay(opts);
    const base = await freeUdpPortRange(2);
    const bind = (s: dgram.Socket, p: number): Promise<void> => new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(p, '127.0.0.1', () => resolve());
    });
    await bind(r.#rtp, base);
    await bind(r.#rtcp, base + 1);
    r.port = base;
    return r;
  }

  /** Sends the cached packets with these sequence numbers again, unimpaired (a NACK answered). */
  retransmit(seqs: readonly number[]): void {
    for (const s of seqs) {
      const p = this.#cache.get(s & 0xffff);
      if (p && !this.#closed) {
        this.stats.retransmitted++;
        this.#rtp.send(p, this.#opts.target, '127.0.0.1');
      }
    }
  }

  #onRtp(m: Buffer): void {
    if (this.#closed || m.length < 12) return;
    this.stats.received++;
    const seq = m.readUInt16BE(2);
    this.#cache.set(seq, m);
    this.#cache.delete((seq - 2048) & 0xffff);
    const o = this.#opts;
    if (this.#random() < o.loss) {
      this.stats.dropped++;
      return;
    }
    let delay = this.#random() * o.jitterMs;
    if (this.#random() < o.reorder) {
      this.stats.reordered++;
      delay += 20 + this.#random() * 20;
    }
    const copies = this.#random() < o.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) this.#later(m, delay + i * 5);
  }

  #later(m: Buffer, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#closed) return;
      this.stats.forwarded++;
      this.#rtp.send(m, this.#opts.target, '127.0.0.1');
    }, ms);
    this.#timers.add(t);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    return Promise.all([
      new Promise<void>((r) => this.#rtp.close(() => r())),
      new Promise<void>((r) => this.#rtcp.close(() => r())),
    ]).then(() => undefined);
  }
}

/** Sequence numbers a generic NACK (RFC 4585 §6.2.1) in a compound RTCP packet asks for. */
export function nackedSeqs(rtcp: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + 12 <= rtcp.length; o += (rtcp.readUInt16BE(o + 2) + 1) * 4) {
    if (rtcp[o + 1] !== 205 || (rtcp[o]! & 0x1f) !== 1) continue;
    const end = o + (rtcp.readUInt16BE(o + 2) + 1) * 4;
    for (let f = o + 12; f + 4 <= end; f += 4) {
      const pid = rtcp.readUInt16BE(f);
      const blp = rtcp.readUInt16BE(f + 2);
      out.push(pid);
      for (let b = 0; b < 16; b++) if (blp & (1 << b)) out.push((pid + b + 1) & 0xffff);
    }
  }
  return out;
}
