export {
  GatewayError, ParseError, InvalidStateError, ValidationError, NotFoundError, ConflictError,
  PayloadTooLargeError, UnavailableError, SipError, ConfigError, RemoteError,
} from './errors.js';
export { TypedEmitter } from './emitter.js';
export { installErrorBoundary, runInScope, currentScope, failCurrentScope, type ErrorScope } from './error-boundary.js';
export { createLogger, silentLogger, REDACT_PATHS, type Logger } from './logger.js';
export type { MediaFrame, VideoFrame, AudioFrame } from './media.js';
export { seqDiff, tsDiff, sleep } from './time.js';
export {
  CODECS, AUDIO_CODEC_NAMES, VIDEO_CODEC_NAMES, STATIC_PAYLOAD_TYPES, AUDIO_FRAME_CODECS, codecByEncoding, codecByName,
  type CodecName, type AudioCodecName, type VideoCodecName, type AudioFrameCodec, type VideoFrameCodec, type CodecInfo,
} from './codecs.js';
export { Scope, type Closeable } from './scope.js';
export { NAL, nalType, splitAnnexB, joinAnnexB, accessUnitsFromAud } from './h264.js';
