import { InvalidStateError } from '../shared/index.js';

/** Call `status` of SPEC §2.7. */
export const CALL_STATUSES = [
  'PENDING', 'TRYING', 'RING', 'SESSION_PROGRESS', 'ESTABLISHED', 'HOLD', 'FINISH', 'BUSY', 'FAILED',
] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

const TERMINAL = ['FINISH', 'BUSY', 'FAILED'] as const;

/** Allowed moves. Terminal states have none. */
export const CALL_STATUS_TRANSITIONS: Record<CallStatus, readonly CallStatus[]> = {
  PENDING: ['TRYING', ...TERMINAL],
  TRYING: ['RING', 'SESSION_PROGRESS', 'ESTABLISHED', ...TERMINAL],
  RING: ['SESSION_PROGRESS', 'ESTABLISHED', ...TERMINAL],
  SESSION_PROGRESS: ['RING', 'ESTABLISHED', ...TERMINAL],
  ESTABLISHED: ['HOLD', 'FINISH', 'FAILED'],
  HOLD: ['ESTABLISHED', 'FINISH', 'FAILED'],
  FINISH: [],
  BUSY: [],
  FAILED: [],
};

export function isTerminal(s: CallStatus): boolean {
  return CALL_STATUS_TRANSITIONS[s].length === 0;
}

/** Throws InvalidStateError when `to` is not allowed from `from`. */
export function assertTransition(from: CallStatus, to: CallStatus): void {
  if (!CALL_STATUS_TRANSITIONS[from].includes(to)) {
    throw new InvalidStateError(`call status ${from} → ${to} is not allowed`);
  }
}
