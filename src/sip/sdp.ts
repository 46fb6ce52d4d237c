import { isIP } from 'node:net';
import sdpTransform from 'sdp-transform';
import { ParseError } from '../shared/index.js';

/** Codec names as the configuration spells them. */
export type AudioCodecName = 'opus' | 'pcma' | 'pcmu' | 'g722' | 'speex16' | 'telephone-event';
export type VideoCodecName = 'h264' | 'vp8';

export interface OfferOptions {
  /** Address put in o= and c= (the public RTP address or the local one). */
  address: string;
  audioPort: number;
  videoPort: number;
  /** `true` → sendrecv, `false` → recvonly (SPEC §2.1: both m-lines are always offered). */
  sendAudio: boolean;
  sendVideo: boolean;
  audioCodecs: readonly AudioCodecName[];
  videoCodecs: readonly VideoCodecName[];
  h264Profiles: readonly string[];
  /** Extra session-level lines placed after c= and before t= (`sipSDP`). */
  extraSessionLines?: readonly string[];
  sessionId?: number;
  sessionVersion?: number;
  /** RFC 3264 §8.4, we hold: `sendonly` where we would send and receive, `inactive` where we only receive. */
  hold?: boolean;
}

interface OfferedCodec { pt: number; rtpmap: string; fmtp?: string }

/** Static and dynamic payload types of the offer (RFC 3551 static ones where they exist). */
const AUDIO: Record<AudioCodecName, OfferedCodec> = {
  opus: { pt: 111, rtpmap: 'opus/48000/2', fmtp: 'useinbandfec=1' },
  pcma: { pt: 8, rtpmap: 'PCMA/8000' },
  pcmu: { pt: 0, rtpmap: 'PCMU/8000' },
  g722: { pt: 9, rtpmap: 'G722/8000' },
  speex16: { pt: 98, rtpmap: 'speex/16000' },
  'telephone-event': { pt: 101, rtpmap: 'telephone-event/8000', fmtp: '0-16' },
};

function videoCodecs(opts: OfferOptions): OfferedCodec[] {
  const out: OfferedCodec[] = [];
  let pt = 96;
  for (const name of opts.videoCodecs) {
    if (name === 'h264') {
      // Mode 1 (FU-A/STAP-A) first for every profile, then mode 0 (single NAL).
      for (const mode of [1, 0]) {
        for (const profile of opts.h264Profiles) {
          out.push({ pt: pt++, rtpmap: 'H264/90000', fmtp: `profile-level-id=${profile};packetization-mode=${mode}` });
        }
      }
    } else {
      out.push({ pt: pt++, rtpmap: 'VP8/90000' });
    }
  }
  return out;
}

function mediaSection(kind: 'audio' | 'video', port: number, codecs: readonly OfferedCodec[], send: boolean, hold = false): string[] {
  const lines = [`m=${kind} ${port} RTP/AVP ${codecs.map((c) => c.pt).join(' ')}`];
  for (const c of codecs) {
    lines.push(`a=rtpmap:${c.pt} ${c.rtpmap}`);
    if (c.fmtp) lines.push(`a=fmtp:${c.pt} ${c.fmtp}`);
  }
  if (kind === 'video') {
    // RFC 4585 §4.2 wildcard keeps the offer small (SPEC §9.6: stay under the MTU).
    lines.push('a=rtcp-fb:* nack', 'a=rtcp-fb:* nack pli', 'a=rtcp-fb:* ccm fir');
  } else {
    lines.push('a=ptime:20');
  }
  const direction = hold ? (send ? 'sendonly' : 'inactive') : send ? 'sendrecv' : 'recvonly';
  lines.push(`a=rtcp:${port + 1}`, `a=${direction}`);
  return lines;
}

/** Builds the SDP offer of SPEC §4 (RFC 3264 §5). */
export function buildOffer(opts: OfferOptions): string {
  const id = opts.sessionId ?? Math.floor(Date.now() / 1000);
  const lines = [
    'v=0',
    `o=- ${id} ${opts.sessionVersion ?? 1} IN IP4 ${opts.address}`,
    's=-',
    `c=IN IP4 ${opts.address}`,
    ...(opts.extraSessionLines ?? []),
    't=0 0',
  ];
  const audio = opts.audioCodecs.map((n) => AUDIO[n]);
  if (audio.length > 0) lines.push(...mediaSection('audio', opts.audioPort, audio, opts.sendAudio, opts.hold));
  const video = videoCodecs(opts);
  if (video.length > 0) lines.push(...mediaSection('video', opts.videoPort, video, opts.sendVideo, opts.hold));
  return `${lines.join('\r\n')}\r\n`;
}

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface NegotiatedCodec { pt: number; name: string; clockRate: number; channels: number; fmtp: string | undefined }

/** One accepted m-line of the far end's answer. */
export interface NegotiatedMedia {
  kind: 'audio' | 'video';
  /** Where the far end receives RTP (and RTCP: a=rtcp or port + 1). */
  address: string;
  port: number;
  rtcpPort: number;
  /** The direction as the far end states it. */
  direction: Direction;
  /** The first codec of the answer's format list (RFC 3264 §6.1: the preferred one). */
  codec: NegotiatedCodec;
  /** RFC 4733 telephone-event payload type, when present. */
  telephoneEventPt: number | undefined;
  /** Every payload type of the answer with its codec (what may arrive). */
  payloadTypes: Record<number, { name: string; clockRate: number }>;
}

export interface NegotiatedSession {
  audio: NegotiatedMedia | null;
  video: NegotiatedMedia | null;
  /** Why an audio or video m-line was refused (out-of-range port, `c=` not an IP literal, …), for logs and the call's `info`. */
  problems: string[];
}

const STATIC_PT: Record<number, { name: string; clockRate: number }> = {
  0: { name: 'PCMU', clockRate: 8000 },
  8: { name: 'PCMA', clockRate: 8000 },
  9: { name: 'G722', clockRate: 8000 },
};

const validPort = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;

/**
 * Reads one accepted m-line, validated at the edge so nothing fails later
 * from a timer or a socket: RTP and RTCP ports (a=rtcp, or RTP + 1) within
 * 1–65535, a connection address that is an IP literal (a host name would
 * mean a DNS lookup per packet: refused), payload types 0–127. Null when it
 * lists no codec we can name.
 * @throws ParseError naming what is wrong.
 */
function readMedia(m: sdpTransform.MediaDescription, parsed: sdpTransform.SessionDescription, kind: 'audio' | 'video'): NegotiatedMedia | null {
  if (!validPort(m.port)) throw new ParseError(`${kind} port ${String(m.port)} is out of range`);
  const rtcpPort = m.rtcp?.port ?? m.port + 1;
  if (!validPort(rtcpPort)) throw new ParseError(`${kind} RTCP port ${String(rtcpPort)} is out of range`);
  const address = m.connection?.ip ?? parsed.connection?.ip;
  if (!address) throw new ParseError(`${kind} m-line without a connection address`);
  if (isIP(address) === 0) throw new ParseError(`${kind} connection address "${address.slice(0, 64)}" is not an IP literal`);
  const payloadTypes: Record<number, { name: string; clockRate: number }> = {};
  const order = String(m.payloads ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const codecs: NegotiatedCodec[] = [];
  for (const pt of order) {
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) throw new ParseError(`${kind} payload type out of range`);
    const map = m.rtp.find((r) => r.payload === pt);
    const known = map ? { name: map.codec, clockRate: map.rate ?? 8000 } : STATIC_PT[pt];
    if (!known) continue;
    payloadTypes[pt] = known;
    codecs.push({
      pt, name: known.name, clockRate: known.clockRate,
      channels: map?.encoding ? Number(map.encoding) : 1,
      fmtp: m.fmtp.find((f) => f.payload === pt)?.config,
    });
  }
  const first = codecs.find((c) => c.name.toLowerCase() !== 'telephone-event');
  if (!first) return null;
  return {
    kind,
    address,
    port: m.port,
    rtcpPort,
    direction: (m.direction ?? parsed.direction ?? 'sendrecv') as Direction,
    codec: first,
    telephoneEventPt: codecs.find((c) => c.name.toLowerCase() === 'telephone-event')?.pt,
    payloadTypes,
  };
}

/**
 * Reads an SDP (the far end's answer or offer, or our own): for each of
 * audio and video, the first accepted m-line (port ≠ 0; a disabled stream is
 * dropped) and its codecs. A missing, rejected or invalid m-line gives null;
 * an invalid one is also listed in `problems`.
 * @throws ParseError when the text is not SDP at all.
 */
export function parseAnswer(sdp: string): NegotiatedSession {
  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (e) {
    throw new ParseError(`unparsable SDP: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed.media) || parsed.version !== 0) throw new ParseError('SDP without v=0');
  const session: NegotiatedSession = { audio: null, video: null, problems: [] };
  for (const m of parsed.media) {
    if ((m.type !== 'audio' && m.type !== 'video') || session[m.type] || m.port === 0) continue;
    try {
      session[m.type] = readMedia(m, parsed, m.type);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      session.problems.push(e.message);
    }
  }
  return session;
}

/**
 * The payload types to receive on one m-line (RFC 3264 §5.1: once we sent
 * an SDP we must accept any of its formats, under *our* numbers): every
 * entry of the SDP we sent (`local`, offer or answer) whose codec is the
 * negotiated one or telephone-event, plus the far end's numbers for those
 * codecs where they add a mapping (devices that send with their own
 * numbering). Our numbers win a clash. Other codecs of our offer are left
 * out: the output is built for the negotiated codec.
 */
export function receivePayloadTypes(
  local: Readonly<Record<number, { name: string; clockRate: number }>> | undefined,
  negotiated: NegotiatedMedia,
): Record<number, { name: string; clockRate: number }> {
  const wanted = (c: { name: string; clockRate: number }): boolean => {
    const name = c.name.toLowerCase();
    return name === 'telephone-event' || (name === negotiated.codec.name.toLowerCase() && c.clockRate === negotiated.codec.clockRate);
  };
  const out: Record<number, { name: string; clockRate: number }> = {};
  for (const [pt, c] of Object.entries(local ?? {})) if (wanted(c)) out[Number(pt)] = c;
  for (const [pt, c] of Object.entries(negotiated.payloadTypes)) if (wanted(c) && !(local && Number(pt) in local)) out[Number(pt)] = c;
  return out;
}
