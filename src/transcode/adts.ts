/**
 * Streaming ADTS splitter (ISO/IEC 13818-7 §6.2, 14496-3 §1.A.2) for the
 * encoder's stdout. Media folders do not import each other (DESIGN §1), so
 * this small parser lives here beside rtmp/'s file-level ADTS helpers.
 */
import { ParseError } from '../shared/index.js';

const SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350] as const;

export interface AdtsFrameInfo {
  /** MPEG-4 Audio Object Type (ADTS profile + 1; 2 = AAC-LC). */
  objectType: number;
  sampleRateIndex: number;
  sampleRate: number;
  channels: number;
}

/** AudioSpecificConfig (14496-3 §1.6.2.1) for an ADTS stream: 2 bytes, GASpecificConfig flags all zero. */
export function ascFromAdts(info: AdtsFrameInfo): Buffer {
  const v = (info.objectType << 11) | (info.sampleRateIndex << 7) | (info.channels << 3);
  return Buffer.of(v >> 8, v & 0xff);
}

/**
 * Splits an ADTS byte stream delivered in arbitrary pieces into raw access
 * units. Bytes that are not a frame start are skipped up to the next
 * syncword (and counted), so one corrupt frame does not stop the stream.
 */
export class AdtsSplitter {
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes skipped while looking for a syncword. */
  skipped = 0;
  /** Most bytes kept while waiting for the rest of a frame (a frame is < 8 KiB). */
  static readonly MAX_PENDING = 64 * 1024;

  /**
   * Feeds bytes; calls `onFrame` for each complete frame with its header
   * fields and payload (a view into an internal buffer: copy to keep it).
   */
  push(chunk: Buffer, onFrame: (info: AdtsFrameInfo, raw: Buffer) => void): void {
    const buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    let off = 0;
    while (buf.length - off >= 7) {
      if (buf[off] !== 0xff || ((buf[off + 1] as number) & 0xf6) !== 0xf0) {
        off++;
        this.skipped++;
        continue;
      }
      const b2 = buf[off + 2] as number;
      const b3 = buf[off + 3] as number;
      const sampleRateIndex = (b2 >> 2) & 0x0f;
      const sampleRate = SAMPLE_RATES[sampleRateIndex];
      const headerLength = ((buf[off + 1] as number) & 0x01) ? 7 : 9;
      const frameLength = ((b3 & 0x03) << 11) | ((buf[off + 4] as number) << 3) | ((buf[off + 5] as number) >> 5);
      if (sampleRate === undefined || frameLength < headerLength) {
        off++;
        this.skipped++;
        continue;
      }
      if (buf.length - off < frameLength) break;
      const info: AdtsFrameInfo = {
        objectType: (b2 >> 6) + 1,
        sampleRateIndex,
        sampleRate,
        channels: ((b2 & 0x01) << 2) | (b3 >> 6),
      };
      onFrame(info, buf.subarray(off + headerLength, off + frameLength));
      off += frameLength;
    }
    const rest = buf.length - off;
    if (rest > AdtsSplitter.MAX_PENDING) throw new ParseError('ADTS: frame larger than the pending limit');
    this.#buf = rest === 0 ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
  }
}
