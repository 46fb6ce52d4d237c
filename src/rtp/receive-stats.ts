/**
 * Reception statistics of one RTP source, per RFC 3550 Appendix A.1 (sequence
 * tracking), A.3 (expected / lost, fraction lost) and A.8 (interarrival
 * jitter). Pure: the caller passes arrival times.
 */
import { ntpMiddle32, type ReportBlock } from './rtcp.js';

const RTP_SEQ_MOD = 0x10000;
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;

export class ReceiveStats {
  readonly clockRate: number;
  ssrc = 0;
  /** Packets counted as received (A.1: duplicates count, which can make `lost` negative). */
  received = 0;
  bytes = 0;
  #initialized = false;
  #maxSeq = 0;
  #cycles = 0;
  #baseSeq = 0;
  #badSeq = RTP_SEQ_MOD + 1;
  #expectedPrior = 0;
  #receivedPrior = 0;
  /** Interarrival jitter in timestamp units, as a float (A.8 keeps it scaled; we keep it exact). */
  #jitter = 0;
  #lastTransit = 0;
  #hasTransit = false;
  #lsr = 0;
  #srArrivalMs: number | null = null;

  constructor(clockRate: number) {
    this.clockRate = clockRate;
  }

  /**
   * Counts one arrived packet. Returns false when the sequence number jumped so
   * far that it is held for probation (A.1): the packet should be discarded.
   */
  update(ssrc: number, seq: number, timestamp: number, payloadBytes: number, arrivalMs: number): boolean {
    if (!this.#initialized || ssrc !== this.ssrc) {
      if (ssrc !== this.ssrc) {
        this.#lsr = 0;
        this.#srArrivalMs = null;
      }
      this.#init(ssrc, seq);
    } else {
      const udelta = (seq - this.#maxSeq + RTP_SEQ_MOD) % RTP_SEQ_MOD;
      if (udelta < MAX_DROPOUT) {
        if (seq < this.#maxSeq) this.#cycles += RTP_SEQ_MOD; // wrapped
        this.#maxSeq = seq;
      } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
        // A very large jump: accept it only when the next packet follows it,
        // i.e. the sender restarted its sequence (A.1).
        if (seq === this.#badSeq) {
          this.#init(ssrc, seq);
        } else {
          this.#badSeq = (seq + 1) & 0xffff;
          return false;
        }
      }
      // else: duplicate or reordered packet, counted below.
    }
    this.received++;
    this.bytes += payloadBytes;
    // A.8: transit time in timestamp units; J += (|D| - J) / 16.
    const transit = (arrivalMs * this.clockRate) / 1000 - timestamp;
    if (this.#hasTransit) {
      // Unwrap the timestamp difference so a 2^32 wrap is not a huge jump.
      let d = transit - this.#lastTransit;
      if (d > 0x80000000) d -= 0x100000000;
      else if (d < -0x80000000) d += 0x100000000;
      this.#jitter += (Math.abs(d) - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
    this.#hasTransit = true;
    return true;
  }

  #init(ssrc: number, seq: number): void {
    this.ssrc = ssrc;
    this.#initialized = true;
    this.#baseSeq = seq;
    this.#maxSeq = seq;
    this.#cycles = 0;
    this.#badSeq = RTP_SEQ_MOD + 1;
    this.received = 0;
    this.#expectedPrior = 0;
    this.#receivedPrior = 0;
    this.#hasTransit = false;
  }

  get initialized(): boolean {
    return this.#initialized;
  }

  /** Extended highest sequence number received (A.1). */
  get extHighestSeq(): number {
    return (this.#cycles + this.#maxSeq) >>> 0;
  }

  get expected(): number {
    return this.#initialized ? this.#cycles + this.#maxSeq - this.#baseSeq + 1 : 0;
  }

  /** Cumulative number of packets lost (A.3); negative with duplicates. */
  get lost(): number {
    return this.expected - this.received;
  }

  /** Interarrival jitter in timestamp units. */
  get jitter(): number {
    return this.#jitter;
  }

  get jitterMs(): number {
    return (this.#jitter * 1000) / this.clockRate;
  }

  /** Records a received sender report for LSR / DLSR (RFC 3550 §6.4.1). */
  onSenderReport(ntpSec: number, ntpFrac: number, arrivalMs: number): void {
    this.#lsr = ntpMiddle32(ntpSec, ntpFrac);
    this.#srArrivalMs = arrivalMs;
  }

  /**
   * Builds the report block for an RR sent at `nowMs` and starts the next
   * interval (fraction lost is per interval, A.3).
   */
  makeReportBlock(nowMs: number): ReportBlock {
    const expected = this.expected;
    const expectedInterval = expected - this.#expectedPrior;
    const receivedInterval = this.received - this.#receivedPrior;
    this.#expectedPrior = expected;
    this.#receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    const fractionLost = expectedInterval === 0 || lostInterval <= 0
      ? 0
      : Math.floor((lostInterval * 256) / expectedInterval);
    const dlsr = this.#srArrivalMs === null
      ? 0
      : Math.max(0, Math.floor(((nowMs - this.#srArrivalMs) * 65536) / 1000));
    return {
      ssrc: this.ssrc,
      fractionLost: Math.min(255, fractionLost),
      cumulativeLost: this.lost,
      extHighestSeq: this.extHighestSeq,
      jitter: Math.floor(this.#jitter),
      lsr: this.#lsr,
      dlsr: this.#srArrivalMs === null ? 0 : dlsr >>> 0,
    };
  }
}
