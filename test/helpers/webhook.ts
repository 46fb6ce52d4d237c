/**
 * A webhook receiver standing in for the "CallApp" application: an HTTP
 * server on 127.0.0.1 that records every POST and answers it (200 by default).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One received request. */
export interface WebhookEvent {
  /** Path below the base URL, e.g. `/CallStatusEvent`. */
  path: string;
  method: string;
   
  body: any;
  /** The raw body text (for signature checks). */
  raw: string;
  headers: http.IncomingHttpHeaders;
  /** Date.now() at arrival. */
  at: number;
}

/** Options of {@link startWebhookReceiver}. */
export interface WebhookOptions {
  /** Path prefix of the application; default `/CallApp`. */
  appPath?: string;
  /** Status to answer with, fixed or per event (e.g. 500 to test retries). Default 200. */
  status?: number | ((ev: WebhookEvent, index: number) => number);
  /** Delay before answering, in ms (fixed or per event). Default 0. */
  delayMs?: number | ((ev: WebhookEvent, index: number) => number);
}

/** A running receiver. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/CallApp` — the value to configure as the application URL. */
  baseUrl: string;
  port: number;
  /** Every request so far, in arrival order (also those answered with an error status). */
  events: WebhookEvent[];
  /**
   * Resolves with the first event (already received or future) that matches
   * `pred`; rejects after `timeoutMs` listing what did arrive.
   */
  waitFor(pred: (ev: WebhookEvent) => boolean, timeoutMs?: number): Promise<WebhookEvent>;
  /** Stops the server and drops its connections. Idempotent. */
  close(): Promise<void>;
}

/** Starts a webhook receiver on a free port of 127.0.0.1. */
export async function startWebhookReceiver(opts: WebhookOptions = {}): Promise<WebhookReceiver> {
  const appPath = opts.appPath ?? '/CallApp';
  const events: WebhookEvent[] = [];
  const waiters = new Set<{ pred: (ev: WebhookEvent) => boolean; resolve: (ev: WebhookEvent) => void }>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        // not JSON: keep the text
      }
      const url = req.url ?? '/';
      const ev: WebhookEvent = {
        path: url.startsWith(appPath) ? url.slice(appPath.length) || '/' : url,
        method: req.method ?? '',
        body,
        raw,
        headers: req.headers,
        at: Date.now(),
      };
      const index = events.length;
      events.push(ev);
      for (const w of waiters) {
        if (w.pred(ev)) {
          waiters.delete(w);
          w.resolve(ev);
        }
      }
      const status = typeof opts.status === 'function' ? opts.status(ev, index) : (opts.status ?? 200);
      const delay = typeof opts.delayMs === 'function' ? opts.delayMs(ev, index) : (opts.delayMs ?? 0);
      const answer = (): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status < 300 ? '{}' : '{"error":"test"}');
      };
      if (delay > 0) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, delay);
        timers.add(t);
      } else {
        answer();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    baseUrl: `http://127.0.0.1:${port}${appPath}`,
    port,
    events,
    waitFor(pred, timeoutMs = 10_000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (ev: WebhookEvent) => {
            clearTimeout(t);
            timers.delete(t);
            resolve(ev);
          },
        };
        const t = setTimeout(() => {
          waiters.delete(w);
          timers.delete(t);
          const got = events.map((e) => `${e.path} ${JSON.stringify(e.body)?.slice(0, 200)}`).join('\n  ');
          reject(new Error(`webhook: no matching event within ${timeoutMs} ms; received:\n  ${got || '(none)'}`));
        }, timeoutMs);
        timers.add(t);
        waiters.add(w);
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
