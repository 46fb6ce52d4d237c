/**
 * A call's side of the offer/answer exchange (RFC 3264): the SDP we send
 * (our offer, and answers or fresh offers to a far end's re-INVITE/UPDATE,
 * with one o= session id and a version that grows with each, §8), and what
 * it lets the far end send us — receive routes come from our SDP's payload
 * types plus the far end's own numbers for the negotiated codec (§5.1).
 */
import type { Logger } from '../shared/index.js';
import {
  buildAnswer, buildOffer, parseAnswer, receivePayloadTypes, type AudioCodecName, type NegotiatedMedia, type VideoCodecName,
} from '../sip/index.js';
import { CallMedia } from './call-media.js';

/** What our SDP carries beside the ports. */
export interface CallSdpSettings {
  /** Address written into the SDP (public RTP address or the local one). */
  address: string;
  sendAudio: boolean;
  sendVideo: boolean;
  codecs: { audio: readonly AudioCodecName[]; video: readonly VideoCodecName[]; h264Profiles: readonly string[] };
  /** Extra session-level lines of our offers (`sipSDP`). */
  extraSessionLines?: readonly string[];
}

/** The media of a far-end SDP this build can receive, and why a track was refused. */
export interface UsableMedia {
  audio: NegotiatedMedia | null;
  video: NegotiatedMedia | null;
  problems: string[];
}

export class CallSdp {
  /** o= session id of every SDP we send. */
  readonly #sessionId = Math.floor(Date.now() / 1000);
  #version = 1;
  /** Payload types of the last SDP we sent, per kind: what we must receive. */
  #localPts: { audio?: NegotiatedMedia['payloadTypes']; video?: NegotiatedMedia['payloadTypes'] } = {};

  constructor(private readonly s: CallSdpSettings, private readonly log: Logger) {}

  /** Our initial offer on the allocated ports. */
  offer(ports: { audioPort: number; videoPort: number }): string {
    return this.#sent(buildOffer({ ...this.#common(ports), h264Profiles: this.s.codecs.h264Profiles, extraSessionLines: this.s.extraSessionLines }));
  }

  /**
   * Our SDP for a far-end re-INVITE/UPDATE (§8): an answer to its offer, or a
   * fresh offer when it sent none. Throws when the offer has nothing we can
   * take (the request is then refused with 488).
   */
  answerRemoteOffer(remote: string | undefined, ports: { audioPort: number; videoPort: number }): string {
    const common = { ...this.#common(ports), sessionVersion: this.#version + 1 };
    const sdp = remote === undefined
      ? buildOffer({ ...common, h264Profiles: this.s.codecs.h264Profiles, extraSessionLines: this.s.extraSessionLines })
      : buildAnswer(remote, common);
    this.#version++;
    return this.#sent(sdp);
  }

  /** A fresh offer of ours inside the dialog (§8): on hold (RFC 3264 §8.4) or back off it. */
  reoffer(ports: { audioPort: number; videoPort: number }, hold: boolean): string {
    this.#version++;
    return this.#sent(buildOffer({
      ...this.#common(ports), sessionVersion: this.#version, h264Profiles: this.s.codecs.h264Profiles, extraSessionLines: this.s.extraSessionLines, hold,
    }));
  }

  /** The usable media of a far-end SDP, with the payload types to receive; nothing usable when it does not parse. */
  usable(sdp: string): UsableMedia {
    try {
      const parsed = parseAnswer(sdp);
      const receive = (m: NegotiatedMedia | null): NegotiatedMedia | null => (m ? { ...m, payloadTypes: receivePayloadTypes(this.#localPts[m.kind], m) } : null);
      if (parsed.problems.length > 0) this.log.warn({ problems: parsed.problems }, 'SDP m-lines refused');
      return { ...CallMedia.usable({ audio: receive(parsed.audio), video: receive(parsed.video) }), problems: parsed.problems };
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'unusable SDP');
      return { audio: null, video: null, problems: [(e as Error).message] };
    }
  }

  #common(ports: { audioPort: number; videoPort: number }) {
    return {
      address: this.s.address, audioPort: ports.audioPort, videoPort: ports.videoPort,
      sendAudio: this.s.sendAudio, sendVideo: this.s.sendVideo,
      audioCodecs: this.s.codecs.audio, videoCodecs: this.s.codecs.video,
      sessionId: this.#sessionId, sessionVersion: this.#version,
    };
  }

  /** Remembers what the SDP we send lets the far end send us. */
  #sent(sdp: string): string {
    const local = parseAnswer(sdp);
    this.#localPts = { audio: local.audio?.payloadTypes, video: local.video?.payloadTypes };
    return sdp;
  }
}
