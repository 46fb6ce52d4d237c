/**
 * What a call needs from the process (the SIP user agent, RTP ports, the
 * configuration slices of SPEC §7), handed in by the CallService.
 */
import type { Logger } from '../shared/index.js';
import type { RecordingSettings } from './call-recording.js';
import type { AudioCodecName, SipUserAgent, VideoCodecName } from '../sip/index.js';
import type { PortAllocator } from '../rtp/index.js';
import type { CallMediaTuning } from './call-media.js';
import type { RtmpOutputSettings } from './call-outputs.js';
import type { AudioTranscodeConfig } from './media-output.js';

/** Everything a call needs from the process, handed in by the CallService. */
export interface CallDeps {
  nodeId: string;
  sessionId: string;
  sip: SipUserAgent;
  ports: PortAllocator;
  /** Address written into the SDP (public RTP address or the local one). */
  sdpAddress: string;
  ringTimeoutMs: number;
  jitterBufferMs: number;
  codecs: { audio: readonly AudioCodecName[]; video: readonly VideoCodecName[]; h264Profiles: readonly string[] };
  /** Digest realms answered beside the domain dialled (`sip.authRealms`; `*` = any). */
  authRealms?: readonly string[];
  /** Smallest session interval taken (`sip.minSessionExpiresS`). */
  minSessionExpiresS?: number;
  /** `recording.*`: where `record: true` calls are written; absent: recording is off. */
  recording?: RecordingSettings;
  /** How a far end's REFER is refused (`sip.incomingReferStatus`): 403, 488 or 603. */
  incomingReferStatus?: number;
  transcode: AudioTranscodeConfig;
  /** Media engine settings (rtp.* / transcode.* beyond the above), handed to CallMedia. */
  mediaTuning?: Partial<CallMediaTuning>;
  rtmpConnectTimeoutMs: number;
  /** The embedded server's publish URL (`rtmp://127.0.0.1:1935/live`), or null when disabled. */
  embeddedRtmpUrl: string | null;
  /** RTMP output settings (reconnect policy, RTMPS trust, queue bounds), handed to CallOutputs. */
  rtmpOutput?: Partial<RtmpOutputSettings>;
  log: Logger;
}
