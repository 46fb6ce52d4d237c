import { createHmac } from 'node:crypto';
import { type Logger, sleep } from '../shared/index.js';

export interface WebhookOptions {
  /** appKey → base URL; '' disables that application. */
  apps: Readonly<Record<string, string>>;
  /**
   * The application that gets the events of an appKey `apps` does not name
   * (WCS clients send `defaultApp`, the seeds' own example); unset, such
   * events are not sent (strict mode: REST refused those calls already).
   */
  defaultApp?: string | null;
  timeoutMs: number;
  retries: number;
  /**
   * When set, every request carries `X-Gateway-Timestamp: <Unix seconds>` and
   * `X-Gateway-Signature: sha256=<HMAC-SHA256(secret, "<timestamp>.<body>")>`:
   * a receiver checks the signature and refuses a timestamp older than a few
   * minutes, so a captured event cannot be replayed.
   */
  secret: string | null;
  /** Bounded queue per call (SPEC §3): intermediate events are dropped oldest first, never the final one. */
  maxQueuePerCall: number;
  log: Logger;
  /** Base of the retry backoff (doubles per attempt). */
  retryDelayMs?: number;
}

export type DeliveryResult = 'ok' | 'rejected' | 'failed' | 'dropped';

interface Pending { url: string; body: string; final: boolean }

interface Queue { items: Pending[]; running: boolean }

/**
 * Delivers CallStatusEvent / PushStatusEvent POSTs (SPEC §3): per key (a
 * call) strictly in order, each after the previous was answered or given up;
 * never blocks the caller (SIP and media threads only enqueue).
 */
export class WebhookDispatcher {
  readonly #queues = new Map<string, Queue>();
  readonly #idle = new Set<() => void>();
  readonly #abort = new AbortController();
  /** Count of deliveries by result, for metrics. */
  readonly counts: Record<DeliveryResult, number> = { ok: 0, rejected: 0, failed: 0, dropped: 0 };
  onResult: ((result: DeliveryResult) => void) | undefined;

  constructor(private readonly opts: WebhookOptions) {}

  /**
   * Queues an event. `body` is serialized now, so later changes of the object
   * do not leak into an earlier event.
   */
  post(appKey: string, event: 'CallStatusEvent' | 'PushStatusEvent' | 'RegistrationStatusEvent' | 'TransferStatusEvent' | 'CaptureStatusEvent', key: string, body: unknown, final = false): void {
    const base = this.opts.apps[appKey] ?? (this.opts.defaultApp ? this.opts.apps[this.opts.defaultApp] : undefined);
    if (base === undefined) {
      this.opts.log.warn({ appKey }, 'webhook: unknown appKey, event not sent');
      return;
    }
    if (base === '') return;
    const url = `${base.replace(/\/+$/, '')}/${event}`;
    let json: string;
    try {
      json = JSON.stringify(body);
    } catch (e) {
      // A body that cannot be serialized (a cycle, nesting past the stack) costs this event, not the caller.
      this.opts.log.warn({ key, event, err: (e as Error).message }, 'webhook: event not serializable, dropped');
      this.#count('dropped');
      return;
    }
    let q = this.#queues.get(key);
    if (!q) this.#queues.set(key, (q = { items: [], running: false }));
    q.items.push({ url, body: json, final });
    this.#bound(q);
    if (!q.running) {
      this.#drain(key, q).catch((e: unknown) => this.opts.log.error({ err: (e as Error).message, key }, 'webhook: queue stopped'));
    }
  }

  /** Resolves when every queue is empty, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.#queues.size === 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.#idle.delete(done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.#idle.add(done);
    });
  }

  /** Stops retrying; queued events are given up. */
  close(): void {
    this.#abort.abort();
  }

  #bound(q: Queue): void {
    // Drop the oldest intermediate (non-final) event that is not in flight.
    while (q.items.length > this.opts.maxQueuePerCall) {
      const start = q.running ? 1 : 0;
      const i = q.items.findIndex((p, idx) => idx >= start && !p.final);
      if (i < 0) break;
      q.items.splice(i, 1);
      this.#count('dropped');
    }
  }

  async #drain(key: string, q: Queue): Promise<void> {
    q.running = true;
    try {
      while (q.items.length > 0 && !this.#abort.signal.aborted) {
        const item = q.items[0] as Pending;
        this.#count(await this.#deliver(item));
        q.items.shift();
      }
    } finally {
      // Also when a delivery threw (onResult is the caller's): the key's queue is given up, not wedged.
      q.running = false;
      q.items.length = 0;
      this.#queues.delete(key);
      if (this.#queues.size === 0) for (const f of [...this.#idle]) f();
    }
  }

  async #deliver(item: Pending): Promise<DeliveryResult> {
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (attempt > 0) await sleep((this.opts.retryDelayMs ?? 500) * 2 ** (attempt - 1), this.#abort.signal);
      if (this.#abort.signal.aborted) return 'failed';
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.opts.secret) {
        // Signed per attempt: each carries the time it was sent.
        const ts = String(Math.floor(Date.now() / 1000));
        headers['x-gateway-timestamp'] = ts;
        headers['x-gateway-signature'] = `sha256=${createHmac('sha256', this.opts.secret).update(`${ts}.${item.body}`).digest('hex')}`;
      }
      try {
        const res = await fetch(item.url, {
          method: 'POST',
          headers,
          body: item.body,
          // A redirect is not followed: the event would go (as a GET after 301/302) to wherever the receiver
          // points, signature and all. A 3xx is the receiver's answer, counted as rejected.
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.#abort.signal]),
        });
        // The status line is the answer; the body is never read. A receiver streaming an endless or huge
        // body holds neither memory nor this call's queue: the connection is dropped here.
        res.body?.cancel().catch(() => undefined);
        if (res.ok) return 'ok';
        if (res.status < 500) {
          this.opts.log.warn({ url: item.url, status: res.status }, 'webhook: event rejected, not retried');
          return 'rejected';
        }
        this.opts.log.warn({ url: item.url, status: res.status, attempt }, 'webhook: server error');
      } catch (e) {
        this.opts.log.warn({ url: item.url, attempt, err: (e as Error).message }, 'webhook: delivery error');
      }
    }
    return 'failed';
  }

  #count(r: DeliveryResult): void {
    this.counts[r]++;
    this.onResult?.(r);
  }
}
