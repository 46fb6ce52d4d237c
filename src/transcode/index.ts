export { AudioTranscoder, TRANSCODER_STATES, TRANSCODER_TRANSITIONS } from './audio-transcoder.js';
export type { AudioTranscoderOptions, TranscoderState } from './audio-transcoder.js';
export { AdtsSplitter, ascFromAdts } from './adts.js';
export type { AdtsFrameInfo } from './adts.js';
export {
  linearToAlaw, alawToLinear, linearToUlaw, ulawToLinear, encodeG711, decodeG711, ALAW_SILENCE, ULAW_SILENCE,
} from './g711.js';
