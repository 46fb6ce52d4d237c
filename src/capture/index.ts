/** Scheduled captures (SPEC §2.9): the scheduler and where schedules are kept. */
export { CaptureService, newCaptureId, type CaptureServiceOptions } from './capture-service.js';
export { SqliteCaptureStore } from './sqlite-store.js';
export type { CaptureObject, CaptureRecord, CaptureStatus, CaptureStore, RetryPolicy, ScheduleParams } from './types.js';
