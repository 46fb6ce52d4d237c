/**
 * The gateway as a process of its own (`node --import tsx src/main.ts
 * --config …`) on free 127.0.0.1 ports, ready once its REST API answers:
 * for what only a separate process shows (SIGTERM, kill -9 of a cluster
 * node). Stopped by its own PID.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnChild, stopChild } from './proc.js';
import { freeTcpPort, freeUdpPortRange } from './ports.js';
import { waitUntil } from './wait.js';

export interface GatewayProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** `http://127.0.0.1:<port>/rest-api` */
  base: string;
  embeddedRtmpUrl: string;
  stderr(): string;
  /** POSTs JSON to `<base><route>`. */
  rest(route: string, body: unknown): Promise<{ status: number; body: any }>;
  /** SIGTERM (graceful), SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** SIGKILL at once: a node that dies without a word. */
  kill9(): Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** `overrides` are merged over a loopback configuration on free ports (shallow per top-level key). */
export async function startGatewayProcess(overrides: Record<string, unknown> = {}, logLevel = 'warn'): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-proc-'));
  const rtpBase = await freeUdpPortRange(40);
  const restPort = await freeTcpPort();
  const rtmpPort = await freeTcpPort();
  const config = {
    rest: { host: '127.0.0.1', httpPort: restPort },
    sip: { host: '127.0.0.1', port: 0 },
    rtp: { host: '127.0.0.1', portMin: rtpBase, portMax: rtpBase + 39 },
    rtmp: { embedded: { host: '127.0.0.1', rtmpPort, httpPort: await freeTcpPort() } },
    capture: { path: path.join(dir, 'captures.db') },
    log: { level: logLevel },
    ...overrides,
  };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const { child, exited } = spawnChild(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', path.join(dir, 'config.json')],
    { cwd: process.cwd(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const base = `http://127.0.0.1:${restPort}/rest-api`;
  const rest = async (route: string, body: unknown): Promise<{ status: number; body: any }> => {
    const r = await fetch(`${base}${route}`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null) };
  };
  await waitUntil(async () => child.exitCode !== null || (await rest('/call/find_all', {}).catch(() => null))?.status === 404, 20_000, 100, 'gateway up');
  if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${stderr.slice(-2000)}`);
  return {
    child, exited, base, rest, stderr: () => stderr, embeddedRtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    stop: () => stopChild(child, exited, 10_000),
    kill9: () => stopChild(child, exited, 0, 'SIGKILL'),
  };
}
