/**
 * Which datagrams an RTP session takes (docs/security.md, "RTP / RTCP
 * ports"): media only from the far end's SDP address (any address with
 * symmetric latching, for far ends behind NAT), and one source per stream —
 * the first valid packet's address and port are latched; packets from
 * anywhere else are dropped (a stranger cannot take the stream over with a new
 * SSRC) until the latched source has been silent for `relatchAfterMs`.
 */
import type dgram from 'node:dgram';

/** Address equality across IPv4 and IPv4-mapped IPv6 spellings. */
export function sameAddress(a: string, b: string): boolean {
  const strip = (x: string): string => (x.startsWith('::ffff:') ? x.slice(7) : x);
  return strip(a) === strip(b);
}

export type LatchResult =
  /** The latched source (or the first one): take the packet. */
  | 'same'
  | 'new'
  /** The old source was silent long enough: this one replaces it. */
  | 'moved'
  /** Another source while the latched one is live: drop it. */
  | 'refused';

export class SourceLatch {
  #source: { address: string; port: number } | null = null;
  #seenAt = 0;

  /**
   * @param symmetric accept the first source from any address (NAT).
   * @param relatchAfterMs silence after which another source may take over.
   */
  constructor(readonly symmetric: boolean, private readonly relatchAfterMs: number) {}

  /** The latched source, null before the first packet (or after {@link reset}). */
  get source(): { readonly address: string; readonly port: number } | null {
    return this.#source;
  }

  /** The far end's new SDP: its media may come from a new place. */
  reset(): void {
    this.#source = null;
  }

  /** Whether RTP from `address` may be looked at: the SDP's address (`sdpHost`, null while unknown), or any with symmetric latching. */
  addressAllowed(address: string, sdpHost: string | null): boolean {
    return this.symmetric || sdpHost === null || sameAddress(address, sdpHost);
  }

  /** Whether RTCP from `address` may be taken: the latched source's address (its port differs), else as for RTP. */
  rtcpAllowed(address: string, sdpHost: string | null): boolean {
    const from = this.#source?.address;
    return from === undefined ? this.addressAllowed(address, sdpHost) : sameAddress(address, from);
  }

  /** Latches the source of a valid RTP packet received at `now` (ms). */
  latch(rinfo: Pick<dgram.RemoteInfo, 'address' | 'port'>, now: number): LatchResult {
    const src = this.#source;
    if (src !== null && src.port === rinfo.port && sameAddress(src.address, rinfo.address)) {
      this.#seenAt = now;
      return 'same';
    }
    if (src !== null && now - this.#seenAt < this.relatchAfterMs) return 'refused';
    this.#source = { address: rinfo.address, port: rinfo.port };
    this.#seenAt = now;
    return src === null ? 'new' : 'moved';
  }
}
