/**
 * Connection phases of an RtmpPublisher and the moves allowed between them.
 * The `PublisherStatus` (protocol words; the call maps them to SPEC §2.7's
 * rtmpStreamStatus) is derived from the phase plus "first media tag written".
 */
import { InvalidStateError } from '../shared/index.js';

export const PUBLISHER_PHASES = [
  'idle', 'connecting', 'handshaking', 'negotiating', 'publishing', 'failed', 'lost', 'closed',
] as const;
export type PublisherPhase = (typeof PUBLISHER_PHASES)[number];

/**
 * - idle → connecting: start()
 * - connecting → handshaking: TCP/TLS connected; → failed: refused, timeout
 * - handshaking → negotiating: handshake done; → failed: bad version, drop, timeout
 * - negotiating → publishing: NetStream.Publish.Start; → failed: _error, error status, drop, timeout
 * - publishing → lost: socket dropped, or a protocol error from the server; → failed: error status while publishing
 * - failed / lost → connecting: start() again (the reconnect policy lives with the caller)
 * - every phase → closed: close()
 */
export const PUBLISHER_TRANSITIONS: Readonly<Record<PublisherPhase, readonly PublisherPhase[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['handshaking', 'failed', 'closed'],
  handshaking: ['negotiating', 'failed', 'closed'],
  negotiating: ['publishing', 'failed', 'closed'],
  publishing: ['lost', 'failed', 'closed'],
  failed: ['connecting', 'closed'],
  lost: ['connecting', 'closed'],
  closed: [],
};

/** Returns `to` when the move is allowed, throws `InvalidStateError` otherwise. */
export function nextPhase(from: PublisherPhase, to: PublisherPhase): PublisherPhase {
  if (!PUBLISHER_TRANSITIONS[from].includes(to)) {
    throw new InvalidStateError(`RTMP publisher: ${from} → ${to} not allowed`);
  }
  return to;
}
