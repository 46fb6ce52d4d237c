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

/** An initial CSeq number: any value below 2^31 works (§8.1.1.5); small leaves room to count. */
export function initialCSeq(): number {
  return 1 + (randomBytes(2).readUInt16BE(0) % 10000);
}
