/** Starts the real gateway in-process on 127.0.0.1 with free ports, for integration tests. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig, deepMerge, type GatewayConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { REDACT_PATHS } from '../../src/shared/logger.js';
import { freeTcpPort, freeUdpPortRange } from './ports.js';

export interface TestGateway {
  gw: Gateway;
  config: Readonly<GatewayConfig>;
  baseUrl: string;
  logFile: string;
  embeddedRtmpUrl: string;
  embeddedHttpUrl: string;
  /** POSTs a JSON body (or a raw string) to /rest-api<route>. */
  rest(route: string, body: unknown, init?: { raw?: boolean; headers?: Record<string, string> }): Promise<{ status: number; body: any }>;
  /** The gateway's log lines (JSON), for assertions and debugging. */
  logs(): any[];
  close(): Promise<void>;
}

export async function startTestGateway(overrides: Record<string, unknown> = {}): Promise<TestGateway> {
  const rtpBase = await freeUdpPortRange(40);
  const rtmpPort = await freeTcpPort();
  const httpFlvPort = await freeTcpPort();
  const base = {
    rest: { host: '127.0.0.1', httpPort: 0 },
    sip: { host: '127.0.0.1', port: 0, userAgent: 'gateway-under-test' },
    rtp: { host: '127.0.0.1', portMin: rtpBase, portMax: rtpBase + 39 },
    rtmp: { connectTimeoutMs: 5000, embedded: { host: '127.0.0.1', rtmpPort, httpPort: httpFlvPort } },
    webhook: { apps: { callApp: '' } },
    log: { level: 'debug' },
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-test-'));
  // Each gateway keeps its schedules in a file of its own unless the test shares one (a restart).
  const config = parseConfig(deepMerge({ ...base, capture: { path: path.join(dir, 'captures.db') } }, overrides as never));
  const logFile = path.join(dir, 'gateway.log');
  const dest = pino.destination({ dest: logFile, sync: true });
  const log = pino({ level: config.log.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, dest);
  const gw = await startGateway(config, log);
  const baseUrl = `http://127.0.0.1:${gw.restPort}`;
  return {
    gw,
    config,
    baseUrl,
    logFile,
    embeddedRtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    embeddedHttpUrl: `http://127.0.0.1:${httpFlvPort}/live`,
    async rest(route, body, init = {}) {
      const res = await fetch(`${baseUrl}/rest-api${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...init.headers },
        body: init.raw ? String(body) : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed };
    },
    logs() {
      return readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    async close() {
      await gw.close();
      dest.end();
    },
  };
}
