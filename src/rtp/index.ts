export { PortAllocator, type PortAllocatorOptions, type RtpSocketPair } from './port-allocator.js';
export { RtpSession } from './rtp-session.js';
export type {
  PayloadTypeInfo, RemoteRtpAddress, RtpSessionOptions, RtpSessionStats, SenderReportInfo,
} from './session-types.js';
export { RtpSender, type RtpTarget } from './rtp-sender.js';
export { mediaClockNow, RtpTimestampMapper } from './media-clock.js';
export {
  JitterBuffer, type JitterBufferCounters, type JitterBufferOptions, type ReleaseSink, type SequencedPacket,
} from './jitter-buffer.js';
export { H264Depacketizer, type H264Counters, type H264Sinks } from './h264-depacketizer.js';
export { ReceiveStats } from './receive-stats.js';
export {
  buildFir, buildNack, buildPli, buildReceiverReport, buildSdesCname, buildSenderReport, ntpFromUnixMs, ntpMiddle32, parseRtcpCompound,
  type ReportBlock, type RtcpInfo, type SenderInfo,
} from './rtcp.js';
export {
  looksLikeRtcp, parseRtpPacket, serializeRtpPacket, type RtpHeaderFields, type RtpPacketView,
} from './rtp-packet.js';
export {
  decodeTelephoneEvent, DtmfReceiver, dtmfDigit, dtmfEventCode, encodeTelephoneEvent, isValidDtmfString, planDigit,
  type PlannedEventPacket, type TelephoneEvent,
} from './dtmf.js';
export { DtmfSender, DTMF_INTER_DIGIT_GAP_MS, DTMF_PAUSE_MS } from './dtmf-sender.js';
export { KeyframeRequester, type KeyframeRequesterHooks } from './keyframe-requester.js';
export { MediaGenerator, type GeneratedStream, type GeneratedUnit } from './media-generator.js';
export {
  packetizeH264, DEFAULT_MAX_PAYLOAD, type H264Payload,
} from './h264-packetizer.js';
export {
  Vp8Depacketizer, parseVp8Descriptor, vp8KeyframeSize, type Vp8Counters, type Vp8Sinks,
} from './vp8-depacketizer.js';
export { NackTracker, type NackTrackerOptions } from './nack-tracker.js';
export { packetizeVp8 } from './vp8-packetizer.js';
