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
 * An initial CSeq number: any value below 2^31 works (§8.1.1.5). Random
 * below 2^20: with the Call-ID and branch it makes a forged response or
 * in-dialog request unguessable, and it keeps the INVITE short (an INVITE
 * over 1300 bytes goes over TCP, RFC 3261 §18.1.1).
 */
export function initialCSeq(): number {
  return 1 + (randomBytes(4).readUInt32BE(0) % 0x100000);
}

/**
 * A Call-ID (§8.1.1.4) of 96 random bits in 16 characters (base64url: only
 * `word` characters of §25.1): never derived from anything a REST client or
 * a far end can see.
 */
export function newCallId(): string {
  return randomBytes(12).toString('base64url');
}
