/**
 * Reads the H.264 video of an FLV byte stream: what ffmpeg writes on stdout
 * when it transcodes video for us. Tags come from the pipeline's one FLV
 * demuxer; access units are returned as NAL units (length prefixes removed)
 * with the tag time, and the parameter sets of the AVC sequence header are
 * put in front of every keyframe, so a consumer sees the same shape as H.264
 * received over RTP. Pure and incremental: push chunks, get frames.
 */
import { FLV_CODEC_AVC, FlvDemuxer, avcNalUnits, parseAvcSequenceHeader, type AvcConfig } from '../pipeline/index.js';
import { ParseError } from '../shared/index.js';

export interface FlvVideoFrame {
  nalus: Buffer[];
  key: boolean;
  /** Decode time in ms (FLV timestamp); no B-frames here, so also the presentation time. */
  ms: number;
}

export class FlvVideoReader {
  readonly #demuxer = new FlvDemuxer();
  #config: AvcConfig | undefined;

  push(chunk: Buffer): FlvVideoFrame[] {
    const out: FlvVideoFrame[] = [];
    for (const tag of this.#demuxer.push(chunk)) {
      const d = tag.data;
      if (tag.type !== 'video' || d.length < 5) continue;
      if ((d[0]! & 0x0f) !== FLV_CODEC_AVC) throw new ParseError('FLV: video codec is not AVC');
      if (d[1] === 0) this.#config = parseAvcSequenceHeader(d);
      else if (d[1] === 1) {
        const cfg = this.#config;
        const nalus = avcNalUnits(d, cfg?.lengthSize ?? 4);
        out.push({ nalus: tag.key && cfg ? [...cfg.sps, ...cfg.pps, ...nalus] : nalus, key: tag.key, ms: tag.timestamp });
      }
    }
    return out;
  }
}
