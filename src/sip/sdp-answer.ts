/**
 * Answers to a far end's SDP offer (RFC 3264 §6) in a re-INVITE or UPDATE,
 * and hold detection (RFC 3264 §8.4; RFC 2543's `c=0.0.0.0`). Pure: text in,
 * text out; an unparsable offer throws `ParseError`.
 */
import sdpTransform from 'sdp-transform';
import { ParseError } from '../shared/index.js';
import type { AudioCodecName, Direction, VideoCodecName } from './sdp.js';

export interface AnswerOptions {
  /** Address put in o= and c=. */
  address: string;
  audioPort: number;
  videoPort: number;
  /** Whether we send on each kind (`hasAudio` / `hasVideo`). */
  sendAudio: boolean;
  sendVideo: boolean;
  audioCodecs: readonly AudioCodecName[];
  videoCodecs: readonly VideoCodecName[];
  sessionId: number;
  /** Must grow with every SDP we send in the session (RFC 3264 §8). */
  sessionVersion: number;
}

/** Encoding names (lower-case) of each configured codec. */
const NAMES: Readonly<Record<AudioCodecName | VideoCodecName, { name: string; rate: number }>> = {
  opus: { name: 'opus', rate: 48000 },
  pcma: { name: 'pcma', rate: 8000 },
  pcmu: { name: 'pcmu', rate: 8000 },
  g722: { name: 'g722', rate: 8000 },
  speex16: { name: 'speex', rate: 16000 },
  'telephone-event': { name: 'telephone-event', rate: 8000 },
  h264: { name: 'h264', rate: 90000 },
  vp8: { name: 'vp8', rate: 90000 },
};

const STATIC: Readonly<Record<number, { codec: string; rate: number }>> = {
  0: { codec: 'PCMU', rate: 8000 }, 8: { codec: 'PCMA', rate: 8000 }, 9: { codec: 'G722', rate: 8000 },
};

function parse(sdp: string): sdpTransform.SessionDescription {
  let parsed: sdpTransform.SessionDescription;
  try {
    parsed = sdpTransform.parse(sdp);
  } catch (e) {
    throw new ParseError(`unparsable SDP: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed.media) || parsed.version !== 0) throw new ParseError('SDP without v=0');
  return parsed;
}

/** The direction we answer with (RFC 3264 §6.1): the offer's mirror, limited by what we send. */
export function answerDirection(offered: Direction, weSend: boolean): Direction {
  switch (offered) {
    case 'sendonly': return 'recvonly';
    case 'inactive': return 'inactive';
    case 'recvonly': return weSend ? 'sendonly' : 'inactive';
    default: return weSend ? 'sendrecv' : 'recvonly';
  }
}

/**
 * True when the offer puts us on hold: every active m-line (port ≠ 0) is
 * `sendonly` or `inactive` (RFC 3264 §8.4), or its connection address is
 * `0.0.0.0` (RFC 2543 style). An offer without active media is not a hold.
 */
export function isHoldOffer(sdp: string): boolean {
  const parsed = parse(sdp);
  const active = parsed.media.filter((m) => (m.type === 'audio' || m.type === 'video') && m.port !== 0);
  if (active.length === 0) return false;
  return active.every((m) => {
    const dir = m.direction ?? parsed.direction ?? 'sendrecv';
    const ip = m.connection?.ip ?? parsed.connection?.ip;
    return dir === 'sendonly' || dir === 'inactive' || ip === '0.0.0.0';
  });
}

/**
 * Builds the answer to `offer`: one m-line per offered m-line, in order
 * (RFC 3264 §6); audio and video take the first offered codec we receive
 * (plus telephone-event when offered), on our ports; anything else, or a
 * kind with no common codec, is rejected with port 0.
 */
export function buildAnswer(offer: string, opts: AnswerOptions): string {
  const parsed = parse(offer);
  const lines = [
    'v=0',
    `o=- ${opts.sessionId} ${opts.sessionVersion} IN IP4 ${opts.address}`,
    's=-',
    `c=IN IP4 ${opts.address}`,
    't=0 0',
  ];
  const used = new Set<string>();
  for (const m of parsed.media) {
    const proto = m.protocol || 'RTP/AVP';
    const kind = m.type;
    const offeredPts = String(m.payloads ?? '').trim().split(/\s+/).filter(Boolean);
    const reject = (): void => {
      lines.push(`m=${kind} 0 ${proto} ${offeredPts[0] ?? '0'}`);
    };
    if ((kind !== 'audio' && kind !== 'video') || m.port === 0 || used.has(kind)) {
      reject();
      continue;
    }
    const wanted = kind === 'audio' ? opts.audioCodecs : opts.videoCodecs;
    const chosen: { pt: number; codec: string; rate: number; encoding?: string; fmtp?: string }[] = [];
    let dtmf: (typeof chosen)[number] | undefined;
    for (const p of offeredPts) {
      const pt = Number(p);
      if (!Number.isInteger(pt)) continue;
      const map = m.rtp.find((r) => r.payload === pt);
      const codec = map?.codec ?? STATIC[pt]?.codec;
      if (codec === undefined) continue;
      const rate = map?.rate ?? STATIC[pt]?.rate ?? 8000;
      const entry = { pt, codec, rate, encoding: map?.encoding === undefined ? undefined : String(map.encoding), fmtp: m.fmtp.find((f) => f.payload === pt)?.config };
      const ok = wanted.some((w) => NAMES[w].name === codec.toLowerCase() && NAMES[w].rate === rate);
      if (!ok) continue;
      if (codec.toLowerCase() === 'telephone-event') dtmf ??= entry;
      else if (chosen.length === 0) chosen.push(entry);
    }
    const first = chosen[0];
    if (!first) {
      reject();
      continue;
    }
    used.add(kind);
    if (dtmf) chosen.push(dtmf);
    const port = kind === 'audio' ? opts.audioPort : opts.videoPort;
    lines.push(`m=${kind} ${port} ${proto} ${chosen.map((c) => c.pt).join(' ')}`);
    for (const c of chosen) {
      lines.push(`a=rtpmap:${c.pt} ${c.codec}/${c.rate}${c.encoding ? `/${c.encoding}` : ''}`);
      if (c.fmtp) lines.push(`a=fmtp:${c.pt} ${c.fmtp}`);
    }
    if (kind === 'video') lines.push('a=rtcp-fb:* nack', 'a=rtcp-fb:* nack pli', 'a=rtcp-fb:* ccm fir');
    const offered = (m.direction ?? parsed.direction ?? 'sendrecv') as Direction;
    lines.push(`a=rtcp:${port + 1}`, `a=${answerDirection(offered, kind === 'audio' ? opts.sendAudio : opts.sendVideo)}`);
  }
  // RFC 3264 §6: with nothing acceptable the request is refused (488) rather than answered all-rejected.
  if (used.size === 0) throw new ParseError('no common media in the SDP offer');
  return `${lines.join('\r\n')}\r\n`;
}
