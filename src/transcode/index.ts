export { TRANSCODER_STATES, TRANSCODER_TRANSITIONS, type TranscoderState } from './transcoder-state.js';
export { AacEncoder, MAX_QUEUE as AAC_MAX_QUEUE, type AacEncoderOptions } from './aac-encoder.js';
// Types only: the engine itself is loaded by the codec workers, so libavcodec never loads on the event loop's thread.
export type { AacEngineOptions, AacOut } from './aac-engine.js';
export { CodecPool, codecPool } from './codec-pool.js';
export {
  linearToAlaw, alawToLinear, linearToUlaw, ulawToLinear, encodeG711, decodeG711, ALAW_SILENCE, ULAW_SILENCE,
} from './g711.js';
export {
  makeSlateH264, makeSlateVp8, makeG722Silence, makeSpeexSilence, OPUS_SILENCE_20MS, slateArgs, ivfFrames, oggPackets, type SlateOptions,
} from './slate.js';
export { MatroskaWriter, vintSize, type MatroskaTrack } from './matroska.js';
export { VideoTranscoder, type VideoTranscoderOptions } from './video-transcoder.js';
export { FlvVideoReader, type FlvVideoFrame } from './flv-video-reader.js';
