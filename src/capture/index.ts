/** Captures (SPEC §2.9): scheduled ones, incoming ones, and where both are kept. */
export { CaptureService, newCaptureId, type CaptureServiceOptions } from './capture-service.js';
export { SqliteCaptureStore } from './sqlite-store.js';
export { IncomingCaptures, type IncomingObject } from './incoming.js';
export type {
  CaptureLease, CaptureObject, CaptureRecord, CaptureStatus, CaptureStore, IncomingDeclaration, RetryPolicy, ScheduleParams,
} from './types.js';
