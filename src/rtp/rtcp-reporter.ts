/**
 * The sending side of a session's RTCP: a compound packet (RFC 3550 §6.1) —
 * SR once we have sent RTP (generated media, DTMF), else RR; SDES CNAME; then
 * any feedback (RFC 4585 §3.1: NACK, PLI; RFC 5104: FIR) — every 1.5–4.5 s
 * (§6.2, §6.3.1) and whenever feedback is due.
 */
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import type { Logger } from '../shared/index.js';
import {
  buildFir, buildNack, buildPli, buildReceiverReport, buildSdesCname, buildSenderReport, ntpFromUnixMs, type ReportBlock,
} from './rtcp.js';
import type { RtpSender } from './rtp-sender.js';
import type { RemoteRtpAddress } from './session-types.js';

/** RTCP report interval base; randomized ×[0.5, 1.5] (RFC 3550 §6.3.1) stays under the 5 s the spec demands. */
const RTCP_INTERVAL_MS = 3000;

export interface RtcpReporterOptions {
  kind: 'audio' | 'video';
  socket: dgram.Socket;
  /** Our outgoing stream (its SSRC and counters make the SR). */
  sender: RtpSender;
  /** Where RTCP goes now (null while unknown: nothing is sent). */
  remote: () => RemoteRtpAddress | null;
  /** Report blocks about the stream we receive (none before its first packet). */
  reportBlocks: () => ReportBlock[];
  cname?: string;
  log: Logger;
}

export class RtcpReporter {
  readonly #o: RtcpReporterOptions;
  readonly #cname: string;
  #firSeq = 0;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(opts: RtcpReporterOptions) {
    this.#o = opts;
    this.#cname = opts.cname ?? `${randomBytes(8).toString('hex')}@gateway`;
  }

  /** Starts the periodic reports (the first after half an interval). */
  start(): void {
    this.#schedule(RTCP_INTERVAL_MS / 2);
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Generic NACK (RFC 4585 §6.2.1) for `seqs` of `mediaSsrc`. */
  sendNack(mediaSsrc: number, seqs: readonly number[]): boolean {
    return this.send([buildNack(this.#o.sender.ssrc, mediaSsrc, [...seqs])]);
  }

  /** PLI (RFC 4585 §6.3.1) and/or FIR (RFC 5104 §4.3.1) for `mediaSsrc`. */
  sendKeyframeRequest(mediaSsrc: number, pli: boolean, fir: boolean): boolean {
    const fb: Buffer[] = [];
    if (pli) fb.push(buildPli(this.#o.sender.ssrc, mediaSsrc));
    if (fir) {
      this.#firSeq = (this.#firSeq + 1) & 0xff;
      fb.push(buildFir(this.#o.sender.ssrc, mediaSsrc, this.#firSeq));
    }
    return this.send(fb);
  }

  /** Sends one compound packet with `feedback` appended; false when it could not go out. */
  send(feedback: readonly Buffer[] | null): boolean {
    const remote = this.#o.remote();
    if (remote === null || this.#closed) return false;
    const blocks = this.#o.reportBlocks();
    const tx = this.#o.sender;
    const report = tx.packets > 0
      ? buildSenderReport(tx.ssrc, { ...ntpFromUnixMs(Date.now()), rtpTimestamp: tx.timestampNow(), packetCount: tx.packets, octetCount: tx.bytes }, blocks)
      : buildReceiverReport(tx.ssrc, blocks);
    const parts = [report, buildSdesCname(tx.ssrc, this.#cname)];
    if (feedback !== null) parts.push(...feedback);
    try {
      this.#o.socket.send(Buffer.concat(parts), remote.rtcpPort, remote.host);
    } catch (e) {
      // A closed socket or an address the SDP checks let through: this report is lost, the call goes on.
      this.#o.log.debug({ err: (e as Error).message, kind: this.#o.kind }, 'RTCP not sent');
      return false;
    }
    return true;
  }

  #schedule(baseMs: number): void {
    this.#timer = setTimeout(this.#onTimer, baseMs * (0.5 + Math.random()));
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    if (this.#closed) return;
    this.send(null);
    this.#schedule(RTCP_INTERVAL_MS);
  };
}
