/**
 * A gateway for a benchmark: the production build as a child process (log
 * warn, no webhook, everything on 127.0.0.1), its embedded viewer server's
 * process found, and both sampled idle before any call — the baseline the
 * calls' cost is measured against.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from '../../test/helpers/ports.js';
import { stopChild } from '../../test/helpers/proc.js';
import { waitUntil } from '../../test/helpers/wait.js';
import { sampleProcs } from './host.js';
import { childrenNamed, type ProcSummary } from './procstat.js';
import { STARTUP_SETTLE_MS, gatewayArgs, spawnLogged, tail } from './run.js';

export interface BenchGateway {
  pid: number;
  /** The embedded viewer server's process (a child of the gateway), when on. */
  embeddedPid: number | undefined;
  /** `http://127.0.0.1:<rest port>` */
  base: string;
  sipPort: number;
  log: string;
  rtpMin: number;
  rtpMax: number;
  idle: ProcSummary;
  embeddedIdle: ProcSummary | undefined;
  /** Stops it by its PID (SIGTERM, SIGKILL after 10 s). Idempotent. */
  stop: () => Promise<void>;
}

export interface BenchGatewayOptions {
  work: string;
  embedded: boolean;
  /** RTP ports to reserve (4 per call). */
  rtpPorts: number;
  idleS: number;
  name: string;
  /** Top-level configuration keys set as given (e.g. `cluster`). */
  extra?: Record<string, unknown>;
  /** false: no HLS muxing per call (rtmp.hls.enabled). */
  hls?: boolean;
}

export async function startBenchGateway(o: BenchGatewayOptions): Promise<BenchGateway> {
  const rtpMin = await freeUdpPortRange(o.rtpPorts);
  const config = {
    nodeId: o.name,
    rest: { host: '127.0.0.1', httpPort: await freeTcpPort(), maxCalls: 5000 },
    sip: { host: '127.0.0.1', port: await freeUdpPort() },
    rtp: { host: '127.0.0.1', portMin: rtpMin, portMax: rtpMin + o.rtpPorts - 1 },
    rtmp: {
      embedded: { enabled: o.embedded, host: '127.0.0.1', rtmpPort: await freeTcpPort(), httpPort: await freeTcpPort() },
      ...(o.hls === false ? { hls: { enabled: false } } : {}),
    },
    webhook: { apps: { callApp: '' } },
    capture: { path: path.join(o.work, `${o.name}-captures.db`) },
    log: { level: 'warn' },
    ...o.extra,
  };
  const cfgFile = path.join(o.work, `${o.name}.json`);
  writeFileSync(cfgFile, JSON.stringify(config, null, 2));
  const gw = spawnLogged(o.work, process.execPath, gatewayArgs(cfgFile), `${o.name}.log`);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stopChild(gw.child, gw.exited, 10_000));
  const base = `http://127.0.0.1:${config.rest.httpPort}`;
  try {
    await waitUntil(async () => (await fetch(`${base}/rest-api/call/find_all`, { method: 'POST' }).catch(() => null))?.status, 30_000, 100,
      'gateway did not start');
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${tail(gw.log)}`);
  }
  await new Promise((r) => setTimeout(r, STARTUP_SETTLE_MS));
  const pid = gw.child.pid!;
  const embeddedPid = childrenNamed(pid, 'node')[0];
  const sampled = (await sampleProcs(embeddedPid === undefined ? [pid] : [pid, embeddedPid], o.idleS)).summaries;
  const idle = sampled.get(pid);
  if (!idle) {
    await stop();
    throw new Error(`gateway exited\n${tail(gw.log)}`);
  }
  const embeddedIdle = embeddedPid === undefined ? undefined : sampled.get(embeddedPid);
  return { pid, embeddedPid, base, sipPort: config.sip.port, log: gw.log, rtpMin, rtpMax: rtpMin + o.rtpPorts - 1, idle, embeddedIdle, stop };
}

/** One scrape of the gateway's /metrics: the value of a series (name with its labels), NaN when absent. */
export async function readMetrics(gw: BenchGateway): Promise<(series: string) => number> {
  const lines = (await (await fetch(`${gw.base}/metrics`)).text()).split('\n');
  return (series) => {
    const line = lines.find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : NaN;
  };
}
