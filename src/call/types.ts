import type { CallStatus } from './call-state.js';
import type { CodecName } from '../shared/index.js';

export type RtmpStreamStatus = 'RTMP_STREAM_WAIT' | 'RTMP_STREAM_ACTIVE' | 'RTMP_CONNECTION_LOST' | 'RTMP_CONNECTION_FAILED';
export type DtmfType = 'RFC2833' | 'INFO' | 'INFO_RELAY';

/** A validated `/call/startup` request (SPEC §2.1), defaults not yet applied. */
export interface StartupParams {
  callId?: string;
  callee: string;
  toStream?: string;
  rtmpUrl?: string;
  rtmpStream?: string;
  hasAudio: boolean;
  hasVideo: boolean;
  sipLogin?: string;
  sipAuthenticationName?: string;
  sipPassword?: string;
  sipDomain?: string;
  sipOutboundProxy?: string;
  sipPort?: number;
  sipTransport?: 'udp' | 'tcp' | 'tls';
  sipRegisterRequired: boolean;
  visibleName?: string;
  inviteParameters?: Record<string, string>;
  sipContactParams?: string;
  sipSDP?: string[];
  appKey: string;
  custom: Record<string, unknown>;
  /** Digits sent once the call is ESTABLISHED (a conference PIN). */
  joinDtmf?: { digits: string; delayMs: number; type: DtmfType };
  /** Codecs left out of this call's offer. */
  stripCodecs?: readonly CodecName[];
  /** Overrides rtp.rtpActivityTimeoutMs for this call (0: never). */
  rtpActivityTimeoutMs?: number;
  /** A lobby: no RTP during this long after the answer does not end the call. */
  lobbyTimeoutMs?: number;
  /** Re-encode the far end's H.264 (fixed keyframe interval, size cap) instead of passing it through. */
  transcodeVideo?: boolean;
  /** Record the call's output to a file under `recording.dir`. */
  record?: boolean;
  /** The capture this call is an attempt of (set by the capture scheduler, never by REST). */
  parentCallId?: string;
  /** A call the far end placed to a declared incoming capture: who called, and the user part it dialled (`callee` is then the caller's URI). */
  incoming?: { caller: string; userPart: string };
}

/** A call's registration (sipRegisterRequired) as posted in a RegistrationStatusEvent. */
export interface RegistrationObject {
  callId: string;
  appKey: string;
  nodeId: string;
  /** The registered user and the registrar's domain. */
  sipLogin: string;
  sipDomain: string;
  status: 'REGISTERED' | 'UNREGISTERED' | 'FAILED';
  /** The registrar's final status (0 when none came). */
  sipStatus: number;
  info: string;
  timestamp: number;
}

/** A step of a `/call/transfer` (REFER) as posted in a TransferStatusEvent. */
export interface TransferObject {
  callId: string;
  appKey: string;
  nodeId: string;
  /** The URI the far end was asked to call (Refer-To). */
  target: string;
  status: 'ACCEPTED' | 'TRYING' | 'COMPLETED' | 'FAILED';
  /** The REFER's answer, or the status line the far end's NOTIFY carried (0 when none). */
  sipStatus: number;
  info: string;
  timestamp: number;
}

/** What became of a call's joinDtmf (reported in the Call object once it was due). */
export interface JoinDtmfResult {
  digits: string;
  type: DtmfType;
  result: 'SENT' | 'FAILED';
  /** When it was sent (or failed), ms since the epoch. */
  at: number;
  error?: string;
}

/** The Call object of SPEC §2.6, as answered and posted in events. */
export interface CallObject {
  callId: string;
  /** The captureId of a scheduled capture's attempt; null otherwise. */
  parentCallId: string | null;
  /** True for a call the far end placed (an incoming capture). */
  incoming: boolean;
  status: CallStatus;
  sipStatus: number | null;
  /** The SIP message that caused the last change (a 180, the 200 OK, the far end's BYE …), credentials stripped; null before any. */
  sipMessageRaw: string | null;
  /** The joinDtmf outcome once it was due; null before (or without joinDtmf). */
  joinDtmfResult: JoinDtmfResult | null;
  info: string | null;
  caller: string;
  callee: string;
  visibleName: string;
  toStream: string;
  streamName: string;
  rtmpUrl: string | null;
  rtmpStream: string | null;
  rtmpStreamStatus: RtmpStreamStatus | null;
  hasAudio: boolean;
  hasVideo: boolean;
  audioCodec: string | null;
  videoCodec: string | null;
  inviteParameters: Record<string, string> | null;
  sdp: null;
  mediaProvider: null;
  isMsrp: false;
  /** With `record: true`: the recording's file once media started (absolute path); null otherwise. */
  recordingPath: string | null;
  /** Why the recording ended before the call (DISK_FULL, MAX_SIZE, WRITE_ERROR, SLOW_DISK); null while it runs or ran to the end. */
  recordingStopped: string | null;
  /** The target of the last `/call/transfer`; null before any. */
  target: string | null;
  holdForTransfer: false;
  appKey: string;
  nodeId: string;
  sessionId: string;
  custom: Record<string, unknown>;
  createdAt: number;
}

/** Fields `/call/find` filters on. */
export type CallFilter = Partial<Record<'callId' | 'callee' | 'caller' | 'status' | 'rtmpUrl' | 'rtmpStream' | 'toStream', string>>;
