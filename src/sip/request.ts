/**
 * The one way a request of ours reaches its final response (RFC 3261 §8.1.3,
 * §22.2): it goes out in a client transaction, a digest challenge is
 * answered with a fresh copy of the request (new branch and CSeq), and the
 * promise settles on the final response — or a synthetic 408 (timeout) or
 * 503 (transport error). Never rejects. The initial INVITE, in-dialog
 * requests and REGISTER all go through it.
 */
import type { Authenticator } from './auth.js';
import type { SipRequest, SipResponse } from './message.js';
import type { TransactionLayer } from './transaction-layer.js';
import type { ClientTransaction } from './transaction.js';
import type { TransportAddress } from './transport.js';

export interface FinalResponse {
  status: number;
  reason: string;
  /** The final response itself; absent for a synthetic 408 or 503. */
  response?: SipResponse;
  /** Set with the synthetic 503: why the transport failed. */
  transportError?: Error;
}

export interface RequestOptions {
  /** The transaction layer of the transport the request goes over. */
  layer: TransactionLayer;
  to: TransportAddress;
  /** Digest state across the attempts; no credentials, no retry. */
  auth?: Authenticator;
  /** Checked before answering a challenge (e.g. not once the INVITE is being cancelled). Default: always. */
  mayRetry?: () => boolean;
  /** Each attempt as it leaves, with its transaction (an INVITE's, to CANCEL it). */
  onSent?: (req: SipRequest, tx: ClientTransaction) => void;
  /** Every response of each attempt, provisional and final, and 2xx retransmissions after the final (to ACK them). */
  onResponse?: (res: SipResponse, req: SipRequest) => void;
}

/** A guard on top of the authenticator's own limit (two challenges, one stale retry). */
const MAX_ATTEMPTS = 4;

/** Sends the request `build()` makes (called again for each attempt), answering digest challenges. */
export async function request(build: () => SipRequest, opts: RequestOptions): Promise<FinalResponse> {
  for (let attempt = 1; ; attempt++) {
    const req = build();
    if (opts.auth) req.headers.push(...opts.auth.headers(req.method, req.uri, req.body));
    const r = await transact(req, opts);
    const retry = attempt < MAX_ATTEMPTS && r.response !== undefined && (opts.mayRetry?.() ?? true) && opts.auth?.accept(r.response) === true;
    if (!retry) return r;
  }
}

function transact(req: SipRequest, opts: RequestOptions): Promise<FinalResponse> {
  return new Promise((resolve) => {
    const tx = req.method === 'INVITE' ? opts.layer.sendInvite(req, opts.to) : opts.layer.sendNonInvite(req, opts.to);
    opts.onSent?.(req, tx);
    tx.on('response', (res) => {
      opts.onResponse?.(res, req);
      if (res.status >= 200) resolve({ status: res.status, reason: res.reason, response: res });
    });
    tx.on('timeout', () => resolve({ status: 408, reason: 'Request Timeout' }));
    tx.on('transportError', (err) => resolve({ status: 503, reason: 'Service Unavailable', transportError: err }));
    tx.on('terminated', () => resolve({ status: 408, reason: 'Request Timeout' }));
  });
}
