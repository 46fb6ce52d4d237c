/**
 * Transport selection for the INVITE (RFC 3261 §18.1.1): a request above
 * 1300 bytes with an unknown path MTU leaves UDP for TCP, made cheap for far
 * ends without TCP — the connection is tried with a short timeout first, and
 * a destination that refused it (RST, ICMP or silence) is remembered, so
 * later calls to it go straight over UDP.
 */
import type { Logger } from '../shared/index.js';
import type { CallContext, SizeSwitchPolicy } from './call-types.js';
import { PATH_MTU_BUDGET, type TransportAddress } from './transport.js';

/** Destinations that did not take TCP, each remembered for `memoryMs` (bounded: oldest forgotten first). */
export function sizeSwitchPolicy(connectTimeoutMs: number, memoryMs: number): SizeSwitchPolicy {
  const until = new Map<string, number>();
  const k = (d: TransportAddress): string => `${d.host}:${d.port}`;
  return {
    connectTimeoutMs,
    refused(dest) {
      const t = until.get(k(dest));
      if (t === undefined) return false;
      if (t > Date.now()) return true;
      until.delete(k(dest));
      return false;
    },
    remember(dest) {
      if (memoryMs <= 0) return;
      until.delete(k(dest));
      if (until.size >= 1024) until.delete(until.keys().next().value ?? '');
      until.set(k(dest), Date.now() + memoryMs);
    },
  };
}

/** The transport of one call's INVITE: UDP, TCP after the size switch, or UDP again after TCP failed. */
export class InviteTransport {
  /** The context the INVITE goes over now. */
  ctx: CallContext;
  #switch: 'none' | 'tcp' | 'udpFallback' = 'none';
  readonly #log: Logger;

  constructor(ctx: CallContext, log: Logger) {
    this.ctx = ctx;
    this.#log = log;
  }

  /** The context for an INVITE of `bytes` to `dest`; connects over TCP first when the size asks for it. */
  async select(bytes: number, dest: TransportAddress): Promise<CallContext> {
    if (this.ctx.protocol !== 'UDP' || this.#switch !== 'none' || bytes <= PATH_MTU_BUDGET) return this.ctx;
    const tcp = this.ctx.contextFor('TCP');
    if (!tcp) {
      this.#log.warn({ bytes }, 'INVITE above 1300 bytes and no TCP transport: sent over UDP');
      return this.ctx;
    }
    if (this.ctx.sizeSwitch.refused(dest)) {
      this.#switch = 'udpFallback';
      this.#log.info({ bytes, dest }, 'INVITE above 1300 bytes: destination known to refuse TCP, sent over UDP');
      return this.ctx;
    }
    this.#switch = 'tcp';
    this.#log.info({ bytes }, 'INVITE above 1300 bytes: sending it over TCP');
    try {
      await tcp.layer.transport.preconnect?.(dest, this.ctx.sizeSwitch.connectTimeoutMs);
      this.ctx = tcp;
    } catch (err) {
      // §18.1.1: "SHOULD retry the request, using UDP".
      this.#refused(err as Error, dest);
    }
    return this.ctx;
  }

  /** After a transport error: UDP again when it was the switch's TCP that failed, else undefined. */
  fallBack(err: Error, dest: TransportAddress): CallContext | undefined {
    const udp = this.ctx.contextFor('UDP');
    if (this.#switch !== 'tcp' || !udp) return undefined;
    this.#refused(err, dest);
    this.ctx = udp;
    return udp;
  }

  #refused(err: Error, dest: TransportAddress): void {
    // A far end without TCP: UDP still beats no call (SPEC §9.6 keeps offers small for this).
    this.#log.warn({ err: err.message, dest }, 'TCP refused for the large INVITE, falling back to UDP');
    this.ctx.sizeSwitch.remember(dest);
    this.#switch = 'udpFallback';
  }
}
