import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebhookDispatcher } from '../../../src/webhook/index.js';
import { silentLogger } from '../../../src/shared/logger.js';

interface Hit { path: string; body: string; signature: string | undefined; timestamp: string | undefined }

async function server(answer: (hit: Hit, n: number) => number | 'hang'): Promise<{ url: string; hits: Hit[]; close: () => Promise<void> }> {
  const hits: Hit[] = [];
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const hit = {
        path: req.url ?? '', body,
        signature: req.headers['x-gateway-signature'] as string | undefined, timestamp: req.headers['x-gateway-timestamp'] as string | undefined,
      };
      hits.push(hit);
      const a = answer(hit, hits.length);
      if (a === 'hang') return;
      res.statusCode = a;
      res.end();
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/CallApp`,
    hits,
    close: () => new Promise((r) => { s.closeAllConnections(); s.close(() => r()); }),
  };
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function dispatcher(url: string, over: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {}): WebhookDispatcher {
  const d = new WebhookDispatcher({ apps: { callApp: url }, timeoutMs: 500, retries: 3, secret: null, maxQueuePerCall: 100, log: silentLogger(), retryDelayMs: 10, ...over });
  closers.push(() => d.close());
  return d;
}

describe('WebhookDispatcher', () => {
  it('delivers each call\'s events in order to <base>/CallStatusEvent', async () => {
    const srv = await server(() => 200);
    closers.push(srv.close);
    const d = dispatcher(srv.url);
    for (const status of ['PENDING', 'TRYING', 'RING', 'ESTABLISHED', 'FINISH']) d.post('callApp', 'CallStatusEvent', 'c1', { callId: 'c1', status }, status === 'FINISH');
    await d.flush(5000);
    expect(srv.hits.map((h) => h.path)).toEqual(Array(5).fill('/CallApp/CallStatusEvent'));
    expect(srv.hits.map((h) => JSON.parse(h.body).status)).toEqual(['PENDING', 'TRYING', 'RING', 'ESTABLISHED', 'FINISH']);
    expect(d.counts.ok).toBe(5);
  });

  it('retries 5xx and gives up 4xx without retrying', async () => {
    const srv = await server((hit, n) => (JSON.parse(hit.body).kind === 'bad' ? 404 : n <= 2 ? 503 : 200));
    closers.push(srv.close);
    const d = dispatcher(srv.url);
    d.post('callApp', 'CallStatusEvent', 'c1', { kind: 'flaky' });
    await d.flush(5000);
    expect(srv.hits.length).toBe(3);
    d.post('callApp', 'CallStatusEvent', 'c2', { kind: 'bad' });
    await d.flush(5000);
    expect(srv.hits.length).toBe(4);
    expect(d.counts).toMatchObject({ ok: 1, rejected: 1 });
  });

  it('times out a hanging receiver and still delivers the next event', async () => {
    const srv = await server((hit) => (JSON.parse(hit.body).n === 1 ? 'hang' : 200));
    closers.push(srv.close);
    const d = dispatcher(srv.url, { timeoutMs: 100, retries: 0 });
    d.post('callApp', 'CallStatusEvent', 'c1', { n: 1 });
    d.post('callApp', 'CallStatusEvent', 'c1', { n: 2 });
    await d.flush(5000);
    expect(srv.hits.map((h) => JSON.parse(h.body).n)).toEqual([1, 2]);
    expect(d.counts).toMatchObject({ failed: 1, ok: 1 });
  });

  it('bounds the queue by dropping the oldest intermediate events, never the final one', async () => {
    const srv = await server(() => 200);
    closers.push(srv.close);
    const d = dispatcher(srv.url, { maxQueuePerCall: 3 });
    for (let n = 1; n <= 10; n++) d.post('callApp', 'CallStatusEvent', 'c1', { n }, n === 10);
    await d.flush(5000);
    const got = srv.hits.map((h) => JSON.parse(h.body).n);
    expect(got[0]).toBe(1);
    expect(got.at(-1)).toBe(10);
    expect(got.length).toBeLessThanOrEqual(4);
    expect(d.counts.dropped).toBe(10 - got.length);
  });

  it('signs timestamp and body with HMAC-SHA256 when a secret is configured (a replayed event is stale)', async () => {
    const srv = await server(() => 200);
    closers.push(srv.close);
    const d = dispatcher(srv.url, { secret: 's3cret' });
    d.post('callApp', 'CallStatusEvent', 'c1', { a: 1 });
    await d.flush(5000);
    const hit = srv.hits[0];
    const ts = Number(hit?.timestamp);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(5);
    expect(hit?.signature).toBe(`sha256=${createHmac('sha256', 's3cret').update(`${hit?.timestamp}.${hit?.body}`).digest('hex')}`);
    // The body alone (the old scheme) does not verify: the timestamp is covered.
    expect(hit?.signature).not.toBe(`sha256=${createHmac('sha256', 's3cret').update(hit?.body ?? '').digest('hex')}`);
  });
});
