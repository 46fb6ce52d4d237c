/**
 * Types shared by the call and its helpers: the options of `invite()`, the
 * call's states and events, and what a call needs from its user agent.
 */
import type { Logger } from '../shared/index.js';
import type { Credentials } from './auth.js';
import type { SipHeader } from './message.js';
import type { ReferProgress } from './refer.js';
import type { TransactionLayer } from './transaction-layer.js';
import type { TransactionTimers } from './transaction.js';
import type { TransportAddress, TransportProtocol } from './transport.js';

export interface InviteOptions {
  /** Used verbatim as Call-ID. */
  callId: string;
  /** e.g. `sip:10001@127.0.0.1:5070` (may carry `;params`). */
  requestUri: string;
  from: { user: string; host: string; displayName?: string };
  /** To URI; defaults to the Request-URI without parameters. */
  to?: string;
  /** Where requests go (outbound proxy or domain). */
  destination: TransportAddress;
  /**
   * Transport for this call; defaults to the URI's (`sips:` → TLS,
   * `;transport=`), else the user agent's. A UDP INVITE over 1300 bytes
   * goes over TCP instead (RFC 3261 §18.1.1).
   */
  transport?: TransportProtocol;
  /** Extra headers on the initial INVITE (e.g. Route for a preloaded route set, Session-Expires). */
  extraHeaders?: readonly { name: string; value: string }[];
  auth?: Credentials;
  /** application/sdp body of the INVITE. */
  sdpOffer: string;
  /** Appended to the Contact header after the URI's `>`. */
  contactParams?: string;
  /** No final answer by then → CANCEL → `failed(408, 'Request Timeout')`. */
  ringTimeoutMs: number;
  /**
   * Smallest session interval (RFC 4028 Min-SE) we take, seconds: a far-end
   * refresh asking for less is refused with 422, a 2xx giving less is
   * raised to it. Default 90 (§4).
   */
  minSessionExpiresS?: number;
  /** How a far end's REFER is refused: 403, 488 or 603 (default). */
  incomingReferStatus?: number;
  /** Per-call child logger. */
  log: Logger;
}

export type SipCallState = 'calling' | 'proceeding' | 'early' | 'confirmed' | 'terminating' | 'terminated';

export const CALL_TRANSITIONS: Readonly<Record<SipCallState, readonly SipCallState[]>> = {
  calling: ['proceeding', 'early', 'confirmed', 'terminating', 'terminated'],
  proceeding: ['early', 'confirmed', 'terminating', 'terminated'],
  early: ['confirmed', 'terminating', 'terminated'],
  confirmed: ['terminating', 'terminated'],
  terminating: ['terminated'],
  terminated: [],
};

export type SipClientCallEvents = {
  /** 100, 180, 183 (with the SDP when present). */
  progress: [status: number, reason: string, sdp: string | undefined];
  /** 2xx; the ACK is already sent. */
  established: [status: number, sdp: string];
  /** Final >= 300 after auth attempts, Timer B (408), transport error (503), CANCELed (487), ring timeout (408). */
  failed: [status: number, reason: string];
  /** After our BYE was answered (or timed out), or the far end's BYE (answered 200). */
  ended: [by: 'local' | 'remote', reason: string];
  /** In-dialog INFO from the far end (answered 200); the media type, lower-case. */
  info: [contentType: string, body: string];
  /** Far-end re-INVITE/UPDATE with its offer; already answered with the call's `answerSdp`. */
  reinvite: [sdp: string | undefined];
  /** A NOTIFY of our REFER's subscription (answered 200): the transfer's progress. */
  referProgress: [progress: ReferProgress];
};

/** What a call needs from its user agent. @internal */
export interface CallContext {
  readonly protocol: TransportProtocol;
  readonly layer: TransactionLayer;
  readonly localAddress: TransportAddress;
  readonly userAgent: string;
  readonly timers: TransactionTimers;
  /** A Via value with a fresh branch. */
  newVia(): string;
  /** The context of another transport of the same user agent, if it has one. */
  contextFor(protocol: TransportProtocol): CallContext | undefined;
  /** Called once when the call reaches `terminated` (the call itself, identified by its Call-ID). */
  onTerminated(call: { readonly callId: string }): void;
  /** How a request too large for UDP tries TCP first (RFC 3261 §18.1.1). */
  readonly sizeSwitch: SizeSwitchPolicy;
}

/** How a request too large for UDP tries TCP first (RFC 3261 §18.1.1, `size-switch.ts`). */
export interface SizeSwitchPolicy {
  /** Connect timeout of that TCP attempt (`sip.tcpSwitchConnectTimeoutMs`). */
  readonly connectTimeoutMs: number;
  /** True while `dest` is remembered as not taking TCP. */
  refused(dest: TransportAddress): boolean;
  /** Remembers that `dest` did not take TCP (for `sip.tcpSwitchMemoryMs`). */
  remember(dest: TransportAddress): void;
}

export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY';

/** Allow and Supported, as sent in our INVITE and in our responses inside a dialog. */
export const ALLOW_HEADERS: readonly SipHeader[] = [{ name: 'Allow', value: ALLOW }, { name: 'Supported', value: 'timer' }];
