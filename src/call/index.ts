export { CallService, newCallId, type CallServiceOptions } from './service.js';
export { Call, type CallStats } from './call.js';
export type { CallDeps } from './call-deps.js';
export { CallRegistry } from './registry.js';
export { CALL_STATUSES, CALL_STATUS_TRANSITIONS, assertTransition, isTerminal, type CallStatus } from './call-state.js';
export type { CallObject, CallFilter, StartupParams, DtmfType, RtmpStreamStatus } from './types.js';
export { RECEIVABLE_CODECS, warmGeneratedMedia } from './call-media.js';
export { PushService, type PushObject, type PushFilter } from './push.js';
export { HlsService } from './push-hls.js';
