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
export { ChunkEncoder, ChunkDecoder, MSG } from './chunk.js';
export type { RtmpMessage, ChunkDecoderOptions } from './chunk.js';
export { HandshakeClient, HANDSHAKE_SIZE, RTMP_VERSION } from './handshake.js';
export type { HandshakeStep } from './handshake.js';
export { parseRtmpUrl, splitStreamUrl } from './url.js';
export type { RtmpTarget } from './url.js';
export { RtmpPublisher } from './publisher.js';
export type { RtmpStreamStatus, RtmpPublisherOptions, RtmpPublisherStats } from './publisher.js';
export { PUBLISHER_PHASES, PUBLISHER_TRANSITIONS, nextPhase } from './publisher-state.js';
export type { PublisherPhase } from './publisher-state.js';
export { startEmbeddedServer } from './embedded.js';
export type { EmbeddedServer, EmbeddedServerOptions } from './embedded.js';
export { parseSps } from './h264-sps.js';
export type { SpsInfo } from './h264-sps.js';
export { FlvFanout } from './fanout.js';
export type { FlvHeaders, FlvSink, FlvFanoutOptions } from './fanout.js';
export { PublisherSupervisor, backoffDelay } from './reconnect.js';
export type { ReconnectPolicy } from './reconnect.js';
export { HlsStream, HlsStore } from './hls.js';
export type { HlsOptions, HlsSegment } from './hls.js';
export {
  TsMuxer, TS_PACKET_SIZE, adtsHeader, crc32Mpeg2, flvAvcToAnnexB, parseAacSequenceHeader, parseAvcSequenceHeader,
} from './hls-ts.js';
export type { AvcConfig, AacConfig } from './hls-ts.js';
export { signStreamPath, verifyStreamSign } from './stream-auth.js';
