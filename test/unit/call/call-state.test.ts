import { describe, it, expect } from 'vitest';
import { CALL_STATUSES, CALL_STATUS_TRANSITIONS, assertTransition, isTerminal } from '../../../src/call/call-state.js';
import { InvalidStateError } from '../../../src/shared/errors.js';

describe('call state machine', () => {
  // One assertion per row of the transition table: allowed moves pass, every other move throws.
  for (const from of CALL_STATUSES) {
    it(`${from}: allows exactly ${CALL_STATUS_TRANSITIONS[from].join(', ') || 'nothing (terminal)'}`, () => {
      for (const to of CALL_STATUSES) {
        if (CALL_STATUS_TRANSITIONS[from].includes(to)) expect(() => assertTransition(from, to)).not.toThrow();
        else expect(() => assertTransition(from, to)).toThrow(InvalidStateError);
      }
    });
  }
  it('FINISH, BUSY and FAILED are the terminal states', () => {
    expect(CALL_STATUSES.filter(isTerminal)).toEqual(['FINISH', 'BUSY', 'FAILED']);
  });
  it('HOLD is reachable only from ESTABLISHED and returns to it', () => {
    expect(CALL_STATUSES.filter((s) => CALL_STATUS_TRANSITIONS[s].includes('HOLD'))).toEqual(['ESTABLISHED']);
    expect(CALL_STATUS_TRANSITIONS.HOLD).toContain('ESTABLISHED');
  });
});
