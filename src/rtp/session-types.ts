import type { Logger } from '../shared/index.js';
import type { RtpSocketPair } from './port-allocator.js';

/** A negotiated payload type: encoding name and RTP clock rate (from `a=rtpmap`). */
export interface PayloadTypeInfo {
  name: string;
  clockRate: number;
}

export interface RemoteRtpAddress {
  host: string;
  rtpPort: number;
  rtcpPort: number;
}

export interface RtpSessionOptions {
  kind: 'audio' | 'video';
  sockets: RtpSocketPair;
  /**
   * payload type → codec to receive (the SDP we sent, plus the far end's numbers for the negotiated codec), e.g.
   * `{8:{name:'PCMA',clockRate:8000}, 101:{name:'telephone-event',clockRate:8000}}`.
   */
  payloadTypes: Record<number, PayloadTypeInfo>;
  /** From the SDP; null = unknown, learnt from the first RTP/RTCP packet (symmetric RTP). */
  remote: RemoteRtpAddress | null;
  /** Jitter buffer depth in ms; default 100. */
  jitterBufferMs: number;
  log: Logger;
  /** RTCP CNAME (RFC 3550 §6.5.1); give both sessions of a call the same one. Default: random. */
  cname?: string;
  /**
   * Symmetric latching (for far ends behind NAT): accept the first source
   * from any address, not only the SDP's, and send back to it. Default false.
   */
  symmetricLatching?: boolean;
  /** Close the socket pair in `close()`; default true. */
  ownsSockets?: boolean;
}

/** The last RTCP sender report of the current source: the hook for lip sync (RFC 3550 §6.4.1). */
export interface SenderReportInfo {
  ssrc: number;
  ntpSec: number;
  ntpFrac: number;
  rtpTimestamp: number;
  /** Media clock (ms, `mediaClockNow()`) at reception. */
  receivedAt: number;
}

export interface RtpSessionStats {
  /** Valid RTP packets received. */
  packets: number;
  /** Bytes of those datagrams. */
  bytes: number;
  /** Cumulative packets lost (RFC 3550 §A.3), never negative. */
  lost: number;
  /** `Date.now()` of the last valid RTP packet, null before the first. */
  lastPacketAt: number | null;
  /** Interarrival jitter in ms (RFC 3550 §A.8). */
  jitter: number;
  /** Datagrams dropped: not RTP v2, truncated, unknown payload type, unsupported codec, bad RTCP. */
  discarded: number;
  /** Of those, RTP packets under a payload type this track does not receive (not offered, or another codec than the negotiated one). */
  unexpectedPayloadType: number;
  /** Datagrams from anywhere but the far end (another address, or another source than the latched one): dropped. */
  foreign: number;
  /** Packets the jitter buffer gave up on. */
  jitterBufferLost: number;
  pliSent: number;
  firSent: number;
  /** Packets asked for again with generic NACK (RFC 4585 §6.2.1). */
  nackSent: number;
}
