/** Random identifiers for SIP: tags (§19.3), branches (§8.1.1.7), cnonces. */
import { randomBytes } from 'node:crypto';
import { BRANCH_COOKIE } from './headers.js';

/** A From/To tag: 32 random bits or more, as §19.3 asks. */
export function newTag(): string {
  return randomBytes(6).toString('hex');
}

/** A branch id unique in space and time, with the RFC 3261 magic cookie. */
export function newBranch(): string {
  return `${BRANCH_COOKIE}${randomBytes(8).toString('hex')}`;
}

/**
 * An initial CSeq number: any value below 2^31 works (§8.1.1.5). Random over
 * 2^30 (room left to count), so a stranger cannot guess it to forge a
 * response or an in-dialog request.
 */
export function initialCSeq(): number {
  return 1 + (randomBytes(4).readUInt32BE(0) % 0x40000000);
}

/** A Call-ID (§8.1.1.4) with 128 random bits: never derived from anything a REST client or a far end can see. */
export function newCallId(): string {
  return randomBytes(16).toString('hex');
}
