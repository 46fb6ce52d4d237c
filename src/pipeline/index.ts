/** Public surface of the media pipeline: FLV tags and framing, AMF0, AAC/H.264 configuration, the interleaver, the fan-out and the HLS muxer. */
export { encodeAmf0, decodeAmf0, decodeAmf0Value, AMF0_MARKER } from './amf0.js';
export type { Amf0Value, Amf0Object, Amf0EcmaArray, Amf0Decoded } from './amf0.js';
export {
  avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, g711Frame, onMetaData, isSequenceHeader,
  FLV_TAG_TYPE, FLV_CODEC_AVC, FLV_SOUND_FORMAT,
} from './flv.js';
export type { FlvTag, FlvTagType, FlvMetadata } from './flv.js';
export { flvFileHeader, serializeFlvTag, writeFlv, FlvDemuxer } from './flv-file.js';
export { parseAdtsHeader, audioSpecificConfig, parseAudioSpecificConfig, splitAdts, AAC_SAMPLE_RATES } from './aac.js';
export type { AdtsHeader } from './aac.js';
export { parseSps } from './h264-sps.js';
export type { SpsInfo } from './h264-sps.js';
export { FlvFanout } from './fanout.js';
export type { FlvHeaders, FlvSink, FlvTarget, FlvFanoutOptions } from './fanout.js';
export { HlsStream, HlsStore } from './hls.js';
export type { HlsOptions, HlsSegment } from './hls.js';
export { TsMuxer, TS_PACKET_SIZE, adtsHeader, crc32Mpeg2, flvAvcToAnnexB, parseAacSequenceHeader } from './hls-ts.js';
export type { AacConfig } from './hls-ts.js';
export { parseAvcSequenceHeader, avcNalUnits, type AvcConfig } from './flv-avc.js';
export { Interleaver } from './interleaver.js';
