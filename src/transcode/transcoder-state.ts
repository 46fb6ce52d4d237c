/** The lifecycle of a transcoder (the AAC encoder's handle, the ffmpeg video transcoder). */
export const TRANSCODER_STATES = ['idle', 'running', 'closing', 'exited'] as const;
export type TranscoderState = (typeof TRANSCODER_STATES)[number];
/** idle → running (start) → closing (close) → exited; a crash goes running → exited. */
export const TRANSCODER_TRANSITIONS: Readonly<Record<TranscoderState, readonly TranscoderState[]>> = {
  idle: ['running', 'exited'],
  running: ['closing', 'exited'],
  closing: ['exited'],
  exited: [],
};
