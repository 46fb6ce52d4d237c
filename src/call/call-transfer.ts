/**
 * `/call/transfer`: our REFER (RFC 3515) asks the far end to call another
 * party; its NOTIFYs (a `message/sipfrag` status line each) report how that
 * call goes. Each step is a TransferStatusEvent body: ACCEPTED (the REFER's
 * 2xx, or the first NOTIFY if it overtakes it), TRYING (a 1xx), COMPLETED (a
 * 2xx: the far end is with the target, we hang up as RFC 5589 §6.1's
 * transferor does) or FAILED (the REFER refused, a final ≥ 300, the
 * subscription ended without a final, no final in time, or the call ended
 * first). One transfer at a time; a failed one leaves the call as it was.
 */
import { ConflictError, SipError, type Logger } from '../shared/index.js';
import type { FinalResponse, ReferProgress } from '../sip/index.js';
import type { TransferObject } from './types.js';

/** No final NOTIFY this long after the REFER was accepted: the transfer FAILED (the call stays). */
export const TRANSFER_TIMEOUT_MS = 60_000;

interface Current {
  target: string;
  accepted: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class CallTransfer {
  #current: Current | undefined;
  /** The last transfer's target (the Call object's `target`). */
  target: string | null = null;

  constructor(
    private readonly call: { callId: string; appKey: string; nodeId: string; log: Logger },
    private readonly report: (t: TransferObject) => void,
    /** The far end is with the target now: end our side of the call. */
    private readonly completed: () => void,
    private readonly timeoutMs = TRANSFER_TIMEOUT_MS,
  ) {}

  /** Sends the REFER; resolves once the far end accepted it (409 while another runs, 502 when refused). */
  async start(refer: (target: string) => Promise<FinalResponse>, target: string): Promise<void> {
    if (this.#current) throw new ConflictError(`a transfer to ${this.#current.target} is in progress`);
    const cur: Current = { target, accepted: false, timer: undefined };
    this.#current = cur;
    this.target = target;
    this.call.log.info({ target }, 'transfer requested (REFER)');
    const r = await refer(target);
    if (this.#current !== cur) return; // a NOTIFY finished it already, or the call ended
    if (r.status < 200 || r.status >= 300) {
      this.#finish('FAILED', r.status, r.reason);
      throw new SipError(r.status, `the far end refused the transfer (REFER ${r.status} ${r.reason})`);
    }
    this.#accept(cur, r.status, r.reason);
  }

  /** A NOTIFY of the REFER's subscription. */
  progress(p: ReferProgress): void {
    const cur = this.#current;
    if (cur === undefined) return;
    this.#accept(cur, 202, 'Accepted'); // RFC 3515 §2.4.4: a NOTIFY means the REFER was taken
    if (p.status >= 300) this.#finish('FAILED', p.status, p.reason);
    else if (p.status >= 200) {
      this.#finish('COMPLETED', p.status, p.reason);
      this.completed();
    } else if (p.terminated) this.#finish('FAILED', p.status, 'subscription ended without a final answer');
    else this.#report('TRYING', p.status, p.reason);
  }

  /** The call ended: a transfer still running FAILED. */
  close(): void {
    if (this.#current) this.#finish('FAILED', 0, 'the call ended');
  }

  #accept(cur: Current, status: number, reason: string): void {
    if (cur.accepted) return;
    cur.accepted = true;
    this.#report('ACCEPTED', status, reason);
    cur.timer = setTimeout(() => this.#finish('FAILED', 408, 'no final NOTIFY in time'), this.timeoutMs);
  }

  #finish(status: 'COMPLETED' | 'FAILED', sipStatus: number, info: string): void {
    clearTimeout(this.#current?.timer);
    this.#report(status, sipStatus, info);
    this.#current = undefined;
  }

  #report(status: TransferObject['status'], sipStatus: number, info: string): void {
    const { callId, appKey, nodeId, log } = this.call;
    const target = this.#current?.target ?? this.target ?? '';
    log.info({ status, sipStatus, info }, 'transfer status');
    this.report({ callId, appKey, nodeId, target, status, sipStatus, info, timestamp: Date.now() });
  }
}
