/**
 * Matroska audio tracks for the codecs we receive over RTP: tests wrap a far
 * end's packets in them so ffmpeg can decode what the gateway sends or makes.
 */
import type { AudioFrameCodec } from '../../src/shared/index.js';
import type { MatroskaTrack } from './matroska.js';

/** A_MS/ACM CodecPrivate: a WAVEFORMATEX (wFormatTag per RFC 2361 / ffmpeg riff tags). */
export function waveFormatEx(formatTag: number, channels: number, sampleRate: number, avgBytesPerSec: number, blockAlign: number, bitsPerSample: number): Buffer {
  const b = Buffer.alloc(18);
  b.writeUInt16LE(formatTag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(sampleRate, 4);
  b.writeUInt32LE(avgBytesPerSec, 8);
  b.writeUInt16LE(blockAlign, 12);
  b.writeUInt16LE(bitsPerSample, 14);
  b.writeUInt16LE(0, 16);
  return b;
}

/** The Opus identification header (RFC 7845 §5.1) used as A_OPUS CodecPrivate. */
export function opusHead(channels: number, preSkip = 312): Buffer {
  const b = Buffer.alloc(19);
  b.write('OpusHead', 0, 'latin1');
  b[8] = 1;
  b[9] = channels;
  b.writeUInt16LE(preSkip, 10);
  b.writeUInt32LE(48000, 12);
  return b;
}

/** Matroska tracks for the audio codecs we receive over RTP (AudioFrame codec names). */
export function audioTrackFor(codec: AudioFrameCodec, clockRate: number): MatroskaTrack {
  switch (codec) {
    case 'OPUS':
      // RFC 7587 §7: always opus/48000/2 in SDP; a stereo decoder plays mono packets too.
      return { kind: 'audio', codecId: 'A_OPUS', codecPrivate: opusHead(2), sampleRate: 48000, channels: 2 };
    case 'G722':
      // RFC 3551 §4.5.2: the RTP clock says 8000, the audio is 16 kHz.
      return { kind: 'audio', codecId: 'A_MS/ACM', codecPrivate: waveFormatEx(0x028f, 1, 16000, 8000, 1, 4), sampleRate: 16000, channels: 1 };
    case 'SPEEX':
      return { kind: 'audio', codecId: 'A_MS/ACM', codecPrivate: waveFormatEx(0xa109, 1, clockRate, 0, 0, 16), sampleRate: clockRate, channels: 1 };
    case 'PCMA':
    case 'PCMU':
      return { kind: 'audio', codecId: 'A_MS/ACM', codecPrivate: waveFormatEx(codec === 'PCMA' ? 6 : 7, 1, 8000, 8000, 1, 8), sampleRate: 8000, channels: 1 };
  }
}
