/**
 * Reconnect policy for one RTMP target (SPEC §6): a dropped connection is
 * retried with capped exponential backoff for a bounded time; a refusal (bad
 * key, publish refused) or a target never reached is final at once.
 */
import { TypedEmitter, type Logger } from '../shared/index.js';
import type { RtmpPublisher, PublisherStatus } from './publisher.js';

export interface ReconnectPolicy {
  /** First retry after this long; doubles per failed attempt. */
  initialDelayMs: number;
  /** Cap of the delay between attempts. */
  maxDelayMs: number;
  /** Give up (`failed`) once the connection has been down this long; 0: never retry. */
  giveUpAfterMs: number;
  /**
   * Retry every failure, the first connection and refusals included, and
   * never give up: for a server of our own that only fails by being down
   * (the embedded server while its process restarts). Default false.
   */
  persistent?: boolean;
}

/** Delay before retry number `attempt` (0-based): initial · 2^attempt, capped. Pure. */
export function backoffDelay(attempt: number, policy: Pick<ReconnectPolicy, 'initialDelayMs' | 'maxDelayMs'>): number {
  const d = policy.initialDelayMs * 2 ** Math.min(attempt, 30);
  return Math.min(policy.maxDelayMs, d);
}

/**
 * Keeps one RtmpPublisher publishing. Status (SPEC §2.7): WAIT until the
 * first publish carries media → ACTIVE; a drop → LOST while retrying → ACTIVE
 * again, or FAILED once `giveUpAfterMs` passed or the server refused. A first
 * connection that fails is FAILED at once (nothing to reconnect to).
 */
export class PublisherSupervisor extends TypedEmitter<{ status: [status: PublisherStatus, reason: string | undefined] }> {
  #status: PublisherStatus = 'waiting';
  #lostAt: number | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Successful reconnects so far (for metrics). */
  reconnects = 0;

  constructor(readonly publisher: RtmpPublisher, private readonly policy: ReconnectPolicy, private readonly log: Logger) {
    super((event, error) => log.error({ event, err: error }, 'RTMP supervisor listener failed'));
    publisher.on('status', (s, reason) => {
      if (s === 'active') this.#onActive();
      else if (s === 'lost') this.#onLost(reason ?? 'connection lost');
    });
    publisher.on('attemptFailed', (reason, refused) => this.#onAttemptFailed(reason, refused));
  }

  get status(): PublisherStatus {
    return this.#status;
  }

  start(): void {
    if (this.#closed) return;
    this.publisher.start();
  }

  /** Stops retrying and closes the publisher. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clear();
    await this.publisher.close();
  }

  #onActive(): void {
    if (this.#lostAt !== undefined) {
      this.reconnects++;
      this.log.info({ downMs: Date.now() - this.#lostAt, attempts: this.#attempt }, 'RTMP reconnected');
    }
    this.#lostAt = undefined;
    this.#attempt = 0;
    this.#set('active', undefined);
  }

  #onLost(reason: string): void {
    if (this.#closed) return;
    this.#lostAt = Date.now();
    this.#attempt = 0;
    this.#set('lost', reason);
    this.#retry(reason);
  }

  #onAttemptFailed(reason: string, refused: boolean): void {
    if (this.#closed) return;
    if (this.policy.persistent === true) {
      if (this.#lostAt === undefined) {
        this.#lostAt = Date.now();
        this.#set('lost', reason);
      }
      this.#retry(reason);
      return;
    }
    if (this.#lostAt === undefined || refused) {
      this.#set('failed', reason);
      return;
    }
    this.#retry(reason);
  }

  #retry(reason: string): void {
    const left = this.policy.persistent === true ? Infinity : this.policy.giveUpAfterMs - (Date.now() - (this.#lostAt ?? Date.now()));
    if (left <= 0) {
      this.#set('failed', `${reason}; gave up after ${this.policy.giveUpAfterMs} ms`);
      return;
    }
    const delay = Math.min(left, backoffDelay(this.#attempt++, this.policy));
    this.log.debug({ delay, attempt: this.#attempt, reason }, 'RTMP reconnect scheduled');
    this.#clear();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      const phase = this.publisher.phase;
      if (phase === 'lost' || phase === 'failed') this.publisher.start();
    }, delay);
  }

  #set(status: PublisherStatus, reason: string | undefined): void {
    if (this.#status === status) return;
    if (this.#status === 'failed') return; // final
    this.#status = status;
    this.emit('status', status, reason);
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
