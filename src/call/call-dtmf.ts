/**
 * A call's outgoing DTMF (`/call/send_dtmf`, joinDtmf): RFC 4733 events on the
 * audio stream, or SIP INFO one digit at a time (`application/dtmf` or
 * `application/dtmf-relay`), `,` a 0.5 s pause. Queued, so digit strings never
 * interleave; a failure is logged, never thrown to the caller. joinDtmf's
 * outcome is kept for the Call object.
 */
import { sleep, type Logger } from '../shared/index.js';
import type { DtmfType, JoinDtmfResult } from './types.js';

export interface DtmfPaths {
  /** RTP telephone-event (RFC 4733) on the negotiated payload type. */
  rfc2833(digits: string): Promise<void>;
  /** One in-dialog INFO; its final status (undefined without a SIP call). */
  info(contentType: string, body: string): Promise<number> | undefined;
}

export class CallDtmf {
  #chain: Promise<void> = Promise.resolve();
  /** What became of joinDtmf once it was due (the Call object's `joinDtmfResult`). */
  joinResult: JoinDtmfResult | null = null;

  constructor(private readonly paths: DtmfPaths, private readonly log: Logger) {}

  /** joinDtmf: `send` (the call's checks, then {@link send}) now; the outcome is kept in {@link joinResult}. */
  join(join: { digits: string; type: DtmfType }, send: (digits: string, type: DtmfType) => void): void {
    const report = { digits: join.digits, type: join.type, at: Date.now() };
    try {
      send(join.digits, join.type);
      this.joinResult = { ...report, result: 'SENT' };
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'joinDtmf not sent');
      this.joinResult = { ...report, result: 'FAILED', error: (e as Error).message };
    }
  }

  /** Queues `digits` behind what is still being sent. */
  send(digits: string, type: DtmfType): void {
    const run = async (): Promise<void> => {
      if (type === 'RFC2833') {
        await this.paths.rfc2833(digits);
        return;
      }
      for (const d of digits) {
        if (d === ',') {
          await sleep(500);
          continue;
        }
        const status = type === 'INFO'
          ? await this.paths.info('application/dtmf', d)
          : await this.paths.info('application/dtmf-relay', `Signal=${d}\r\nDuration=160\r\n`);
        if (status !== undefined && status >= 300) this.log.warn({ status }, 'DTMF INFO refused');
      }
    };
    this.#chain = this.#chain.then(run).catch((e: unknown) => this.log.warn({ err: e }, 'DTMF send failed'));
    // Digits are often a conference PIN: never logged, only how many.
    this.log.info({ count: digits.replace(/,/g, '').length, type }, 'DTMF queued');
  }
}
