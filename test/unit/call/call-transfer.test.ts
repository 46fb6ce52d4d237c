/**
 * CallTransfer: the TransferStatusEvent sequence for every way a REFER goes
 * (accepted and completed, refused, failed by NOTIFY, no final in time,
 * overtaken by its NOTIFY, ended with the call), and one transfer at a time.
 */
import { describe, it, expect } from 'vitest';
import { CallTransfer } from '../../../src/call/call-transfer.js';
import type { TransferObject } from '../../../src/call/types.js';
import type { FinalResponse } from '../../../src/sip/index.js';
import { ConflictError, SipError } from '../../../src/shared/index.js';
import { silentLogger } from '../../../src/shared/logger.js';

function make(timeoutMs = 60_000): { t: CallTransfer; seen: () => string[]; completed: () => number } {
  const events: TransferObject[] = [];
  let completed = 0;
  const t = new CallTransfer({ callId: 'c1', appKey: 'callApp', nodeId: 'n1', log: silentLogger() }, (e) => events.push(e), () => completed++, timeoutMs);
  return { t, seen: () => events.map((e) => `${e.status} ${e.sipStatus} ${e.info}`), completed: () => completed };
}

const answer = (status: number, reason: string) => (): Promise<FinalResponse> => Promise.resolve({ status, reason });

describe('CallTransfer', () => {
  it('202 → ACCEPTED, NOTIFY 1xx → TRYING, NOTIFY 2xx → COMPLETED and the call is ended', async () => {
    const { t, seen, completed } = make();
    await t.start(answer(202, 'Accepted'), 'sip:a@b');
    t.progress({ status: 100, reason: 'Trying', terminated: false });
    t.progress({ status: 200, reason: 'OK', terminated: true });
    t.progress({ status: 200, reason: 'OK', terminated: true }); // a retransmitted NOTIFY changes nothing
    expect(seen()).toEqual(['ACCEPTED 202 Accepted', 'TRYING 100 Trying', 'COMPLETED 200 OK']);
    expect(completed()).toBe(1);
    expect(t.target).toBe('sip:a@b');
  });

  it('a refused REFER → FAILED and a 502 to the client; the next transfer may start', async () => {
    const { t, seen } = make();
    const e = await t.start(answer(403, 'Forbidden'), 'sip:a@b').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SipError);
    expect((e as SipError).httpStatus).toBe(502);
    await t.start(answer(202, 'Accepted'), 'sip:c@d');
    expect(seen()).toEqual(['FAILED 403 Forbidden', 'ACCEPTED 202 Accepted']);
  });

  it('one at a time (409); a NOTIFY ≥ 300 → FAILED, the call not ended', async () => {
    const { t, seen, completed } = make();
    await t.start(answer(202, 'Accepted'), 'sip:a@b');
    await expect(t.start(answer(202, 'Accepted'), 'sip:c@d')).rejects.toBeInstanceOf(ConflictError);
    t.progress({ status: 486, reason: 'Busy Here', terminated: true });
    expect(seen()).toEqual(['ACCEPTED 202 Accepted', 'FAILED 486 Busy Here']);
    expect(completed()).toBe(0);
  });

  it('a NOTIFY that overtakes the 202 counts as the acceptance, reported once', async () => {
    const { t, seen } = make();
    await t.start(async () => {
      t.progress({ status: 100, reason: 'Trying', terminated: false });
      return { status: 202, reason: 'Accepted' };
    }, 'sip:a@b');
    expect(seen()).toEqual(['ACCEPTED 202 Accepted', 'TRYING 100 Trying']);
  });

  it('no final NOTIFY in time, a subscription ended without a final, the call ending: each FAILED once', async () => {
    const timed = make(50);
    await timed.t.start(answer(202, 'Accepted'), 'sip:a@b');
    await new Promise((r) => setTimeout(r, 120));
    timed.t.close();
    expect(timed.seen()).toEqual(['ACCEPTED 202 Accepted', 'FAILED 408 no final NOTIFY in time']);

    const cut = make();
    await cut.t.start(answer(202, 'Accepted'), 'sip:a@b');
    cut.t.progress({ status: 180, reason: 'Ringing', terminated: true });
    expect(cut.seen()).toEqual(['ACCEPTED 202 Accepted', 'FAILED 180 subscription ended without a final answer']);

    const ended = make();
    await ended.t.start(answer(202, 'Accepted'), 'sip:a@b');
    ended.t.close();
    ended.t.close();
    expect(ended.seen()).toEqual(['ACCEPTED 202 Accepted', 'FAILED 0 the call ended']);
  });
});
