/** The real-peer test harness: one import for the end-to-end tests. */
export { requireTools, whichTool } from './tools.js';
export { freeUdpPort, freeTcpPort, freeUdpPortRange } from './ports.js';
export { waitUntil, withTimeout } from './wait.js';
export { run, spawnChild, stopChild, type RunResult } from './proc.js';
export {
  startSipp, startSippUas, startSippUac, parseSippMessages, udpPortBound, tcpPortListening,
  type SippOptions, type SippProcess, type SippMessage,
} from './sipp.js';
export { startNginxRtmp, nginxRtmpConfig, type NginxRtmp, type NginxRtmpOptions } from './nginx.js';
export {
  probeStream, summarizeProbe, type ProbeResult, type ProbeOptions, type ProbedVideo, type ProbedAudio,
} from './ffprobe.js';
export { startWebhookReceiver, type WebhookReceiver, type WebhookEvent, type WebhookOptions } from './webhook.js';
export { childProcesses, assertNoChildProcesses, type ChildInfo } from './processes.js';
export { writePcap, readPcap, type PcapUdpPacket } from './pcap.js';
export { RtpCollector, parseRtpHeader, type RtpHeaderInfo } from './rtp-sink.js';
export { makeMedia, MEDIA, fixturePaths, generatedDir, sippScenarioDir } from '../fixtures/make-media.js';
export { digestResponse, parseDigestParams, verifyDigest, type DigestAlgorithm, type DigestInput } from './digest.js';
export { RawSipUac } from './raw-sip.js';
export { startThrottleRelay, type ThrottleRelay } from './rtmp-throttle-relay.js';
export { startKamailio, type Kamailio, type KamailioOptions } from './kamailio.js';
export { makeTestPki, type TestPki } from './tls.js';
export {
  startCodecFarEnd, ffmpegRtpArgs, offerPorts, measureAvOffset, FAR_CODECS,
  type CodecFarEnd, type FarAudioCodec, type FarVideoCodec, type SendOptions,
} from './media-far-end.js';
export { ImpairmentRelay, nackedSeqs, type ImpairmentOptions, type RelayStats } from './impairment-relay.js';
export { startBaresip, type BaresipFarEnd } from './media-baresip.js';
export { startBaresip as startRegisteredBaresip, type Baresip, type BaresipOptions } from './baresip.js';
export { startTlsRelay, type TlsRelay } from './rtmp-tls-relay.js';
export { startHeavyFarEnd, type HeavyFarEnd } from './rtmp-far-end.js';
export { probeMetadata } from './rtmp-metadata.js';
