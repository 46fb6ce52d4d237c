/**
 * Hostile webhook receivers: each one is a raw TCP server on 127.0.0.1 that
 * answers the POST with something no well-behaved HTTP server sends (RFC 9112
 * framing broken on purpose). The dispatcher must bound what it reads and how
 * long it waits, never follow a redirect, and keep delivering to a healthy
 * receiver (another application) meanwhile.
 */
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebhookDispatcher } from '../../../src/webhook/index.js';
import { silentLogger } from '../../../src/shared/logger.js';

/** What a raw receiver does once a request's headers have arrived. */
type Behaviour = (sock: net.Socket, stats: RawStats) => void;

interface RawStats { connections: number; requests: number; bytesWritten: number; closed: number }

/** A TCP server that reads each request's head and then runs `behaviour` on the socket. */
async function rawReceiver(behaviour: Behaviour): Promise<{ url: string; stats: RawStats; close: () => Promise<void> }> {
  const stats: RawStats = { connections: 0, requests: 0, bytesWritten: 0, closed: 0 };
  const socks = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    stats.connections++;
    socks.add(sock);
    sock.on('close', () => {
      stats.closed++;
      socks.delete(sock);
    });
    sock.on('error', () => undefined);
    let head = '';
    let started = false;
    sock.on('data', (c: Buffer) => {
      if (started) return;
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      started = true;
      stats.requests++;
      behaviour(sock, stats);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/CallApp`,
    stats,
    close: () => new Promise<void>((r) => {
      for (const s of socks) s.destroy();
      srv.close(() => r());
    }),
  };
}

/** A well-behaved receiver: 200 to everything, records the paths and bodies. */
async function goodReceiver(): Promise<{ url: string; hits: { path: string; method: string; body: string }[]; close: () => Promise<void> }> {
  const hits: { path: string; method: string; body: string }[] = [];
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', method: req.method ?? '', body });
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

async function setup(behaviour: Behaviour, over: { timeoutMs?: number; retries?: number } = {}) {
  const bad = await rawReceiver(behaviour);
  closers.push(bad.close);
  const good = await goodReceiver();
  closers.push(good.close);
  const d = new WebhookDispatcher({
    apps: { hostile: bad.url, good: good.url }, timeoutMs: over.timeoutMs ?? 1000, retries: over.retries ?? 1,
    secret: 'k', maxQueuePerCall: 100, log: silentLogger(), retryDelayMs: 10,
  });
  closers.push(() => d.close());
  const results: string[] = [];
  d.onResult = (r) => results.push(r);
  return { bad, good, d, results };
}

/** Posts one event to the hostile receiver and two (another call) to the good one; waits for all. */
async function exercise(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
  s.d.post('hostile', 'CallStatusEvent', 'h1', { callId: 'h1', status: 'ESTABLISHED' });
  s.d.post('good', 'CallStatusEvent', 'g1', { callId: 'g1', status: 'ESTABLISHED' });
  s.d.post('good', 'CallStatusEvent', 'g1', { callId: 'g1', status: 'FINISH' }, true);
  await s.d.flush(30_000);
  expect(s.good.hits.map((h) => JSON.parse(h.body).status)).toEqual(['ESTABLISHED', 'FINISH']);
}

const HEAD_200 = 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n';

describe('WebhookDispatcher against hostile receivers', () => {
  it('does not read a huge body: the connection is dropped after the status line', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x41);
    const s = await setup((sock, st) => {
      sock.write(`${HEAD_200}Content-Length: ${1 << 30}\r\n\r\n`);
      // Up to 256 MiB, as fast as the reader takes it; stops when the dispatcher hangs up.
      let n = 0;
      const pump = (): void => {
        while (n < 256 && !sock.destroyed) {
          n++;
          st.bytesWritten += chunk.length;
          if (!sock.write(chunk)) {
            sock.once('drain', pump);
            return;
          }
        }
        sock.end();
      };
      pump();
    }, { timeoutMs: 20_000 });
    await exercise(s);
    expect(s.results.filter((r) => r === 'ok').length).toBe(3);
    await expect.poll(() => s.bad.stats.closed).toBe(1);
    // Kernel socket buffers hold a few MiB at most; reading the body would have pulled all 256.
    expect(s.bad.stats.bytesWritten).toBeLessThan(32 << 20);
  });

  it('does not wait for a body that never ends', async () => {
    const s = await setup((sock) => {
      sock.write(`${HEAD_200}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    }, { timeoutMs: 60_000 });
    await exercise(s);
    // flush() came back well before the 60 s timeout: the answer was the status line.
    expect(s.d.counts).toMatchObject({ ok: 3, failed: 0 });
    await expect.poll(() => s.bad.stats.closed).toBe(1);
  });

  it.each([
    ['a garbage status line', 'HTTP/1.1 abc Nope\r\n\r\n'],
    ['no HTTP at all', 'SSH-2.0-OpenSSH_9.0\r\n\r\n'],
    ['a header block beyond the client limit', `${HEAD_200}X-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`],
    ['a connection closed mid-headers', 'HTTP/1.1 200 OK\r\nContent-Le'],
  ])('counts %s as failed after its retries and keeps delivering to others', async (_name, answer) => {
    const s = await setup((sock) => {
      sock.end(answer);
    }, { retries: 2 });
    await exercise(s);
    expect(s.d.counts).toMatchObject({ ok: 2, failed: 1 });
    // A network-level failure is retried: 1 + retries attempts.
    expect(s.bad.stats.requests).toBe(3);
  });

  it('does not follow a redirect: a 3xx is a rejection, not retried', async () => {
    const target = await goodReceiver();
    closers.push(target.close);
    for (const code of [301, 302, 307, 308]) {
      const s = await setup((sock) => {
        sock.end(`HTTP/1.1 ${code} Moved\r\nLocation: ${target.url}/CallStatusEvent\r\nContent-Length: 0\r\n\r\n`);
      }, { retries: 3 });
      await exercise(s);
      expect(s.d.counts, String(code)).toMatchObject({ ok: 2, rejected: 1, failed: 0 });
      expect(s.bad.stats.requests).toBe(1);
    }
    expect(target.hits).toEqual([]);
  });

  it('times out a receiver that accepts the connection and never answers', async () => {
    const s = await setup(() => undefined, { timeoutMs: 200, retries: 1 });
    await exercise(s);
    expect(s.d.counts).toMatchObject({ ok: 2, failed: 1 });
    expect(s.bad.stats.requests).toBe(2);
  });

  it('times out a receiver that trickles its status line byte by byte', async () => {
    const timers = new Set<NodeJS.Timeout>();
    closers.push(() => timers.forEach((t) => clearInterval(t)));
    const s = await setup((sock) => {
      const line = Buffer.from('HTTP/1.1 200 OK\r\nX-Slow: '.padEnd(400, 'z'));
      let i = 0;
      const t = setInterval(() => {
        if (sock.destroyed || i >= line.length) {
          clearInterval(t);
          return;
        }
        sock.write(line.subarray(i, ++i));
      }, 20);
      timers.add(t);
    }, { timeoutMs: 300, retries: 0 });
    await exercise(s);
    expect(s.d.counts).toMatchObject({ ok: 2, failed: 1 });
  });
});

describe('WebhookDispatcher with a body it cannot serialize', () => {
  it('drops that event without throwing to the caller and delivers the next one', async () => {
    const good = await goodReceiver();
    closers.push(good.close);
    const d = new WebhookDispatcher({ apps: { callApp: good.url }, timeoutMs: 1000, retries: 0, secret: null, maxQueuePerCall: 100, log: silentLogger() });
    closers.push(() => d.close());
    const cyclic: Record<string, unknown> = { callId: 'c1' };
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(() => d.post('callApp', 'CallStatusEvent', 'c1', cyclic)).not.toThrow();
    expect(() => d.post('callApp', 'CallStatusEvent', 'c1', { callId: 'c1', custom: deep })).not.toThrow();
    d.post('callApp', 'CallStatusEvent', 'c1', { callId: 'c1', status: 'FINISH' }, true);
    await d.flush(5000);
    expect(good.hits.map((h) => JSON.parse(h.body).status)).toEqual(['FINISH']);
    expect(d.counts).toMatchObject({ ok: 1, dropped: 2 });
  });
});
