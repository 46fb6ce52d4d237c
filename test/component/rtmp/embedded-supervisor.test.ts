/**
 * The embedded server's supervisor (embedded.ts): node-media-server runs in a
 * child process that is started, restarted after it dies (SIGKILL here, with
 * a growing delay), stopped on close — also while a restart is under way —
 * and that never outlives the process holding it. Judged by what a client
 * sees on its two ports and by /proc.
 */
import { describe, it, expect, afterEach } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from '../../../src/rtmp/embedded.js';
import { RtmpPublisher } from '../../../src/rtmp/publisher.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freeTcpPort } from '../../helpers/ports.js';
import { waitUntil } from '../../helpers/wait.js';
import { spawnChild, stopChild } from '../../helpers/proc.js';
import { assertNoChildProcesses, childProcesses } from '../../helpers/processes.js';
import { handshake } from '../../helpers/hostile-rtmp.js';

const open: EmbeddedServer[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  await assertNoChildProcesses();
});

/** A logger whose lines the test can read. */
function capturingLog(): { log: EmbeddedServerOptions['log']; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function start(o: Partial<EmbeddedServerOptions> = {}): Promise<EmbeddedServer> {
  const s = await startEmbeddedServer({
    host: '127.0.0.1', rtmpPort: await freeTcpPort(), httpPort: await freeTcpPort(), app: 'live', log: silentLogger(), ...o,
  });
  open.push(s);
  return s;
}

const portOf = (url: string): number => Number(new URL(url).port);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The status code node-media-server's HTTP side answers `path` with. */
function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.once('timeout', () => req.destroy(new Error('HTTP timeout')));
    req.once('error', reject);
  });
}

/** Both ports serve: an RTMP handshake completes, and the HTTP side answers. */
async function serves(s: EmbeddedServer): Promise<void> {
  const c = await handshake(portOf(s.rtmpUrl));
  c.sock.destroy();
  expect(await httpStatus(portOf(s.httpFlvUrl), '/live/none.flv')).toBeGreaterThanOrEqual(200);
}

/** Whether a publish of `name` is accepted (and stays up past the publisher's 1 s refusal window). */
async function publishes(s: EmbeddedServer, name: string, signed: boolean): Promise<boolean> {
  const p = new RtmpPublisher({
    url: s.rtmpUrl, streamName: name, log: silentLogger(), connectTimeoutMs: 3000,
    ...(signed ? { streamQuery: () => s.publishQuery(name) } : {}),
  });
  const ok = await new Promise<boolean>((resolve) => {
    p.once('publishing', () => setTimeout(() => resolve(p.status !== 'failed'), 1200));
    p.once('attemptFailed', () => resolve(false));
    p.start();
  });
  await p.close();
  return ok;
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('embedded server supervisor', () => {
  it('serves from a process of its own, and on close frees both ports and leaves no process', async () => {
    const s = await start();
    expect(s.pid).toBeGreaterThan(0);
    expect(s.pid).not.toBe(process.pid);
    expect(childProcesses().map((c) => c.pid)).toEqual([s.pid]);
    expect(s.restarts).toBe(0);
    await serves(s);
    const pid = s.pid as number;
    await s.close();
    expect(alive(pid)).toBe(false);
    expect(s.pid).toBeUndefined();
    expect(await canListen(portOf(s.rtmpUrl))).toBe(true);
    expect(await canListen(portOf(s.httpFlvUrl))).toBe(true);
    await s.close(); // idempotent
    expect(childProcesses()).toEqual([]);
  });

  it('rejects with the reason when its HTTP-FLV port is taken, leaving no process and the RTMP port free', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const httpPort = (blocker.address() as net.AddressInfo).port;
    const rtmpPort = await freeTcpPort();
    try {
      await expect(startEmbeddedServer({ host: '127.0.0.1', rtmpPort, httpPort, app: 'live', log: silentLogger() }))
        .rejects.toThrow(/HTTP-FLV.*EADDRINUSE/);
      expect(childProcesses()).toEqual([]);
      expect(await canListen(rtmpPort)).toBe(true);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('restarts after SIGKILL with a growing delay, logs why, serves again and keeps its signed publishing', async () => {
    const { log, lines } = capturingLog();
    const s = await start({ log, restartBackoffMs: { minMs: 100, maxMs: 400 }, auth: { secret: null, publish: true, play: false } });
    expect(await publishes(s, 'sup_a', true)).toBe(true);
    const delays: unknown[] = [];
    for (let n = 1; n <= 3; n++) {
      const pid = s.pid as number;
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => s.restarts === n && s.pid !== undefined, 15_000, 20, `restart ${n}`);
      expect(s.pid).not.toBe(pid);
      expect(alive(pid)).toBe(false);
      const ended = lines.filter((l) => l.msg?.toString().startsWith('embedded server process ended'));
      expect(ended).toHaveLength(n);
      expect(ended[n - 1]).toMatchObject({ signal: 'SIGKILL', code: null, reason: 'killed by SIGKILL' });
      delays.push(ended[n - 1]?.restartInMs);
      await serves(s);
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(childProcesses().map((c) => c.pid)).toEqual([s.pid]);
    // The secret stayed with the supervisor: the gateway's signature is valid for the new process, a stranger's absence of one is not.
    expect(await publishes(s, 'sup_b', true)).toBe(true);
    expect(await publishes(s, 'sup_c', false)).toBe(false);
  });

  it('close() during a restart stops the process being started and frees the ports', async () => {
    const s = await start({ restartBackoffMs: { minMs: 10, maxMs: 10 } });
    const pid = s.pid as number;
    process.kill(pid, 'SIGKILL');
    // The replacement is forked but not serving yet (it is still loading).
    const next = await waitUntil(() => (s.pid === undefined ? childProcesses().find((c) => c.pid !== pid && c.state !== 'Z') : undefined), 10_000, 5, 'a replacement forked');
    await s.close();
    expect(alive(next.pid)).toBe(false);
    expect(childProcesses()).toEqual([]);
    expect(s.restarts).toBe(0);
    expect(await canListen(portOf(s.rtmpUrl))).toBe(true);
    expect(await canListen(portOf(s.httpFlvUrl))).toBe(true);
  });

  it('does not outlive the process holding it (IPC disconnect → exit)', async () => {
    const rtmpPort = await freeTcpPort();
    const httpPort = await freeTcpPort();
    const { child: host, exited } = spawnChild(process.execPath, ['--import', 'tsx', 'test/helpers/embedded-host.ts', String(rtmpPort), String(httpPort)], { cwd: process.cwd() });
    try {
      let out = '';
      host.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
      const firstLine = (): string | undefined => (out.includes('\n') ? out.slice(0, out.indexOf('\n')) : undefined);
      const { pid } = JSON.parse(await waitUntil(firstLine, 30_000, 20, 'host ready')) as { pid: number };
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid)).toBe(true);
      expect(await canListen(rtmpPort)).toBe(false);
      host.kill('SIGKILL'); // the "gateway" dies without closing anything
      await exited;
      await waitUntil(() => !alive(pid), 10_000, 20, 'the embedded server process exits with its parent');
      await waitUntil(async () => (await canListen(rtmpPort)) && canListen(httpPort), 5000, 50, 'ports free');
    } finally {
      await stopChild(host, exited);
    }
  });
});
