/**
 * What each payload type of a negotiated m-line goes to (RFC 3551 §3: the
 * payload type names the encoding). Pure: built once per session from the
 * SDP answer's rtpmap lines, looked up per packet by index.
 */
import type { AudioFrame } from '../shared/index.js';
import type { PayloadTypeInfo } from './session-types.js';

export type PayloadRoute =
  | { t: 'h264' }
  | { t: 'vp8' }
  | { t: 'audio'; codec: AudioFrame['codec']; clockRate: number }
  | { t: 'dtmf' }
  | { t: 'ignore' };

const AUDIO_CODECS: Record<string, AudioFrame['codec']> = {
  PCMA: 'PCMA', PCMU: 'PCMU', OPUS: 'OPUS', G722: 'G722', SPEEX: 'SPEEX',
};

export interface PayloadRoutes {
  /** Indexed by payload type (0-127). */
  routes: PayloadRoute[];
  /** Payload types named in the SDP (others are discarded unparsed). */
  known: boolean[];
  /** Clock rate of the first media payload type (RTCP statistics, generated media). */
  primaryClock: number;
  /** Clock rate of telephone-event. */
  dtmfClock: number;
}

export function buildPayloadRoutes(kind: 'audio' | 'video', payloadTypes: Readonly<Record<number, PayloadTypeInfo>>): PayloadRoutes {
  const routes = new Array<PayloadRoute>(128).fill({ t: 'ignore' });
  const known = new Array<boolean>(128).fill(false);
  let primaryClock = kind === 'video' ? 90000 : 8000;
  let primarySet = false;
  let dtmfClock = 8000;
  for (const [key, info] of Object.entries(payloadTypes)) {
    const pt = Number(key);
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) continue;
    const name = info.name.toUpperCase();
    known[pt] = true;
    let route: PayloadRoute = { t: 'ignore' };
    if (name === 'TELEPHONE-EVENT') {
      route = { t: 'dtmf' };
      dtmfClock = info.clockRate;
    } else if (kind === 'video' && name === 'H264') {
      route = { t: 'h264' };
    } else if (kind === 'video' && name === 'VP8') {
      route = { t: 'vp8' };
    } else if (kind === 'audio' && AUDIO_CODECS[name] !== undefined) {
      route = { t: 'audio', codec: AUDIO_CODECS[name], clockRate: info.clockRate };
    }
    routes[pt] = route;
    if (!primarySet && route.t !== 'dtmf' && route.t !== 'ignore') {
      primaryClock = info.clockRate;
      primarySet = true;
    }
  }
  return { routes, known, primaryClock, dtmfClock };
}
