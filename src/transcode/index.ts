export { TRANSCODER_STATES, TRANSCODER_TRANSITIONS, type TranscoderState } from './transcoder-state.js';
export { CodecStream, type CodecStreamOptions } from './codec-stream.js';
export { AacEncoder, MAX_QUEUE as AAC_MAX_QUEUE, type AacEncoderOptions } from './aac-encoder.js';
export { H264Encoder, MAX_VIDEO_QUEUE, type H264EncoderOptions } from './h264-encoder.js';
// Types only: the engines themselves are loaded by the codec workers, so libavcodec never loads on the event loop's thread.
export type { AacEngineOptions, AacOut, AacEncoderChoice } from './aac-engine.js';
export type { H264EngineOptions, VideoOut } from './h264-engine.js';
export { CodecPool, codecPool } from './codec-pool.js';
export {
  linearToAlaw, alawToLinear, linearToUlaw, ulawToLinear, encodeG711, decodeG711, ALAW_SILENCE, ULAW_SILENCE,
} from './g711.js';
export {
  makeSlateH264, makeSlateVp8, OPUS_SILENCE_20MS, G722_SILENCE_20MS, SPEEX_SILENCE_20MS, type SlateOptions,
} from './slate.js';
