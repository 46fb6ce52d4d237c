/**
 * Call transfer by REFER (RFC 3515): the progress the far end reports in
 * NOTIFYs of the implicit `refer` subscription, each carrying a
 * `message/sipfrag` (RFC 3420) whose status line is the transfer's state.
 * Pure: messages in, facts out.
 */
import { bodyText, contentType, getHeader, type SipRequest } from './message.js';

/** One NOTIFY of a REFER's subscription: the status line of the far end's new call, and whether it is the last. */
export interface ReferProgress {
  status: number;
  reason: string;
  /** `Subscription-State: terminated` (RFC 6665 §4.1.3): no more NOTIFYs come. */
  terminated: boolean;
}

/** The status line a sipfrag body starts with (`SIP/2.0 200 OK`), if any. */
export function parseSipfrag(body: string): { status: number; reason: string } | undefined {
  const m = /^SIP\/2\.0 ([1-6]\d\d)(?: ([^\r\n]*))?/.exec(body.trimStart());
  return m ? { status: Number(m[1]), reason: (m[2] ?? '').trim() } : undefined;
}

/**
 * A NOTIFY of a `refer` subscription with a sipfrag status line; undefined for
 * any other NOTIFY (another event package, or a body that is not sipfrag).
 */
export function referProgressOf(req: SipRequest): ReferProgress | undefined {
  const event = getHeader(req, 'Event');
  if (event === undefined || !/^refer\b/i.test(event.trim()) || contentType(req) !== 'message/sipfrag') return undefined;
  const frag = parseSipfrag(bodyText(req));
  if (frag === undefined) return undefined;
  const state = (getHeader(req, 'Subscription-State') ?? '').split(';')[0]?.trim().toLowerCase();
  return { ...frag, terminated: state === 'terminated' };
}
