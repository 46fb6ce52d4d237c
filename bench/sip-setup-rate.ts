/**
 * Call-setup-rate benchmark (not a test): sustained call setups per second
 * against a SIPp UAS that sends no media, and the gateway CPU each setup
 * costs.
 *
 * The gateway runs as a child process (`node dist/main.js` (the production build), log
 * level warn, embedded RTMP server on, webhook to a receiver in this
 * process). For each series, `POST /rest-api/call/startup` is sent at a fixed
 * offered rate for a bounded time; each call is terminated `--hold` ms after
 * its ESTABLISHED webhook event. Measured per series: setups completed
 * (ESTABLISHED) and their rate, failures, setup latency (startup request sent
 * → ESTABLISHED event received), gateway CPU per setup from /proc/<pid>/stat
 * (utime+stime of node; cutime+cstime for its reaped ffmpeg children), RSS.
 *
 * Two far-end answers (bench/sip-setup-rate-uas.xml):
 *   av     PCMA + H.264: every call runs an in-process G.711 → AAC engine (a codec worker thread; ffmpeg children, counted below, are none now).
 *   video  audio rejected (port 0), H.264 only: no audio, so no transcoder.
 *
 * Usage: npx tsx bench/sip-setup-rate.ts [--duration 15] [--rates 5,10,20,40]
 *          [--video-rates 10,40] [--hold 1000] [--max-live 150] [--out bench/results]
 */
import { readFileSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from '../test/helpers/ports.js';
import { run, spawnChild, stopChild } from '../test/helpers/proc.js';
import { udpPortBound } from '../test/helpers/sipp.js';
import { waitUntil } from '../test/helpers/wait.js';
import { CLK_TCK, childrenNamed, measure, readProc } from './lib/procstat.js';
import { ROOT, gatewayArgs, runBench, gitCommit, type Closer } from './lib/run.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    rates: { type: 'string', default: '5,10,20,40' },
    'video-rates': { type: 'string', default: '10,40' },
    hold: { type: 'string', default: '1000' },
    'max-live': { type: 'string', default: '150' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
  },
});
const durationS = Number(argv.duration);
const holdMs = Number(argv.hold);
/** Offering stops when this many calls are live (not ended): the gateway is not keeping up; the host is shared. */
const maxLive = Number(argv['max-live']);
const rates = (s: string | undefined): number[] => (s ? s.split(',').filter(Boolean).map(Number) : []);
const avRates = rates(argv.rates);
const videoRates = rates(argv['video-rates']);
if (!(durationS > 0) || !(holdMs >= 0) || [...avRates, ...videoRates].some((r) => !(r > 0))) throw new Error('bad arguments');
/** After the last startup, how long calls may take to end before the series is cut. */
const DRAIN_MS = holdMs + 8000;

type Answer = 'av' | 'video';
/** What one series measured. */
interface SeriesResult {
  answer: Answer;
  offeredPerS: number;
  durationS: number;
  calls: number;
  established: number;
  /** Offering stopped this many seconds in, because --max-live calls were live; null: ran the full duration. */
  stoppedAtS: number | null;
  /** What still ran when the series was measured: live calls (-1: some), ffmpeg children. */
  leftover: { calls: number; ffmpeg: number };
  /** Calls that never reached ESTABLISHED (REST refusal, SIP failure, or still pending at the cut). */
  failed: number;
  failures: Record<string, number>;
  /** Rate of ESTABLISHED events between the first and the last, per second. */
  setupsPerS: number;
  latencyMs: { p50: number; p95: number; max: number };
  /** CPU seconds per established call, ms: node itself (idle subtracted), its reaped ffmpeg children, both. */
  cpuMsPerSetup: { node: number; ffmpeg: number; total: number };
  /** Mean cores busy (node + ffmpeg children) from the first startup until every call ended. */
  gatewayCores: number;
  peakLiveCalls: number;
  peakFfmpeg: number;
  nodeRssMaxMiB: number;
  ffmpegRssPeakMiB: number;
  /** Whole host busy, percent of all cores (the bench, SIPp and the gateway included). */
  hostBusyPct: number;
  /** Series wall time: first startup → all calls ended. */
  wallS: number;
  /**
   * Round trip of a cheap REST request (find of an unknown call → 404) sent
   * every 200 ms during the series, ms: how responsive the gateway's event loop stayed.
   */
  probeMs: { p50: number; p95: number; max: number };
  /** Every call established, at ≥ 95 % of the offered rate, p95 latency under 1 s. */
  sustained: boolean;
}

const closers: Closer[] = [];
const work = mkdtempSync(path.join(tmpdir(), 'bench-setup-rate-'));
closers.push(async () => rmSync(work, { recursive: true, force: true }));
const tail = (file: string): string => {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '';
  }
};

/** utime+stime and cutime+cstime (reaped children) of `pid`, in seconds (proc(5) fields 14-17). */
function cpuTimes(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { self: ((f[11] ?? 0) + (f[12] ?? 0)) / CLK_TCK, children: ((f[13] ?? 0) + (f[14] ?? 0)) / CLK_TCK };
}

/** [busy, total] jiffies of the host, from the `cpu` line of /proc/stat. */
function hostCpu(): [number, number] {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return [total - (f[3] ?? 0) - (f[4] ?? 0), total];
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** One call of a series, as the bench saw it. */
interface Track {
  sentAt: number;
  /** terminate sent (once). */
  ending?: boolean;
  estAt?: number;
  endAt?: number;
  failure?: string;
}

/** Receives CallStatusEvent POSTs and hands each Call object to `onEvent` with its arrival time. */
async function startReceiver(onEvent: (call: { callId: string; status: string; info: string | null }, atMs: number) => void): Promise<{ port: number; server: Server }> {
  const port = await freeTcpPort();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (!req.url?.endsWith('/CallStatusEvent')) return;
      try {
        onEvent(JSON.parse(Buffer.concat(chunks).toString('utf8')) as never, at);
      } catch {
        // not a Call object: ignored
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, server };
}

/** The far end: SIPp UAS without a call limit (bench/lib/sipp.ts runs one call only). */
async function startUas(answer: Answer): Promise<{ pid: number; sipPort: number; errors: () => string }> {
  const sipPort = await freeUdpPort();
  const mediaPort = await freeUdpPortRange(4);
  const errFile = path.join(work, `sipp-${answer}-errors.log`);
  const args = [
    '-sf', path.join(ROOT, 'bench', 'sip-setup-rate-uas.xml'),
    '-i', '127.0.0.1', '-mi', '127.0.0.1', '-p', String(sipPort), '-mp', String(mediaPort),
    '-t', 'u1', '-nostdin', '-aa', '-trace_err', '-error_file', errFile,
    '-set', 'audio_port', answer === 'av' ? String(mediaPort) : '0', '-set', 'video_port', String(mediaPort + 2),
  ];
  const { child, exited } = spawnChild('sipp', args, { cwd: work, stdio: ['ignore', 'ignore', 'ignore'] });
  closers.push(() => stopChild(child, exited, 3000));
  const errors = (): string => tail(errFile);
  await waitUntil(() => {
    if (child.exitCode !== null) throw new Error(`sipp exited ${child.exitCode}: ${errors()}`);
    return udpPortBound(sipPort);
  }, 10_000, 25, `sipp did not bind ${sipPort}`);
  return { pid: child.pid!, sipPort, errors };
}

async function rest(base: string, route: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}/rest-api${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const ffv = (await run('ffmpeg', ['-version'])).stdout.split('\n', 1)[0] ?? '';
  const commit = await gitCommit();
  const dirty = ((await run('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).catch(() => null))?.stdout.trim() ?? '') !== '';
  const loadBefore = loadavg();

  // Calls of the running series by callId; events of other calls are ignored.
  let tracks = new Map<string, Track>();
  const terminate = (callId: string): void => {
    const t = tracks.get(callId);
    if (t) t.ending = true;
    void rest(base, '/call/terminate', { callId }).catch(() => undefined);
  };
  const receiver = await startReceiver((call, at) => {
    const t = tracks.get(call.callId);
    if (!t) return;
    if (call.status === 'ESTABLISHED' && t.estAt === undefined && t.endAt === undefined) {
      // A call whose startup request timed out may still come up: ended, not counted.
      if (t.failure === undefined) t.estAt = at;
      if (!t.ending) setTimeout(() => terminate(call.callId), holdMs);
      t.ending = true;
    } else if (['FINISH', 'FAILED', 'BUSY'].includes(call.status) && t.endAt === undefined) {
      t.endAt = at;
      if (t.estAt === undefined) t.failure ??= `${call.status} ${call.info ?? ''}`.trim();
    }
  });
  const uas = { av: await startUas('av'), video: await startUas('video') };

  const rtpBase = await freeUdpPortRange(1200);
  const config = {
    nodeId: 'bench',
    rest: { host: '127.0.0.1', httpPort: await freeTcpPort(), maxCalls: 5000 },
    sip: { host: '127.0.0.1', port: await freeUdpPort() },
    rtp: { host: '127.0.0.1', portMin: rtpBase, portMax: rtpBase + 1199 },
    rtmp: { embedded: { enabled: true, host: '127.0.0.1', rtmpPort: await freeTcpPort(), httpPort: await freeTcpPort() } },
    webhook: { apps: { callApp: `http://127.0.0.1:${receiver.port}/CallApp` } },
    capture: { path: path.join(work, 'captures.db') },
    log: { level: 'warn' },
  };
  const cfgFile = path.join(work, 'gateway.json');
  writeFileSync(cfgFile, JSON.stringify(config, null, 2));
  const gwLog = path.join(work, 'gateway.log');
  const fd = openSync(gwLog, 'a');
  const gwChild = spawn(process.execPath, gatewayArgs(cfgFile), { cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const gwExited = new Promise<number | null>((resolve) => gwChild.once('exit', resolve));
  closers.push(() => stopChild(gwChild, gwExited, 10_000));
  const gwPid = gwChild.pid!;
  const base = `http://127.0.0.1:${config.rest.httpPort}`;
  await waitUntil(async () => (await fetch(`${base}/rest-api/call/find_all`, { method: 'POST' })).status > 0, 30_000, 100, 'gateway did not start')
    .catch((e: unknown) => { throw new Error(`${(e as Error).message}\n${tail(gwLog)}`); });

  let seq = 0;
  /** Offers `rate` startups per second for `seconds` to the `answer` far end and measures. */
  const series = async (answer: Answer, rate: number, seconds: number): Promise<SeriesResult> => {
    tracks = new Map();
    const n = Math.max(1, Math.round(rate * seconds));
    const callee = `sip:bench@127.0.0.1:${uas[answer].sipPort}`;
    const cpu0 = cpuTimes(gwPid);
    const host0 = hostCpu();
    const start = performance.now();
    let peakLive = 0, peakFf = 0, rssMax = 0, ffRssPeak = 0;
    const sample = (): void => {
      const live = [...tracks.values()].filter((t) => t.endAt === undefined).length;
      const ff = childrenNamed(gwPid, 'ffmpeg');
      const ffRss = ff.reduce((a, p) => a + (readProc(p)?.rssKb ?? 0), 0) / 1024;
      peakLive = Math.max(peakLive, live);
      peakFf = Math.max(peakFf, ff.length);
      ffRssPeak = Math.max(ffRssPeak, ffRss);
      rssMax = Math.max(rssMax, (readProc(gwPid)?.rssKb ?? 0) / 1024);
    };
    const sampler = setInterval(sample, 250);
    const probes: number[] = [];
    const prober = setInterval(() => {
      const p0 = performance.now();
      void rest(base, '/call/find', { callId: 'probe-none' }).then(() => probes.push(performance.now() - p0), () => probes.push(10_000));
    }, 200);
    const startups: Promise<void>[] = [];
    let stoppedAtS: number | null = null;
    for (let i = 0; i < n; i++) {
      if ([...tracks.values()].filter((t) => t.endAt === undefined).length >= maxLive) {
        stoppedAtS = (performance.now() - start) / 1000;
        break;
      }
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const callId = `sr${seq}-${answer}-${rate}-${i}`;
      const t: Track = { sentAt: performance.now() };
      tracks.set(callId, t);
      startups.push(rest(base, '/call/startup', { callId, callee, sipLogin: 'bench' }).then((r) => {
        if (r.status !== 200) {
          t.failure = `REST ${r.status}`;
          t.endAt ??= performance.now();
        }
      }, (e: unknown) => {
        // No answer: the call may exist all the same, so its end is still awaited.
        const err = e as Error & { cause?: { code?: string } };
        t.failure = `REST ${err.cause?.code ?? err.name}`;
      }));
    }
    seq++;
    const cut = performance.now() + DRAIN_MS;
    await Promise.race([Promise.all(startups), sleep(DRAIN_MS)]);
    // Drain: every call ended. A call whose ESTABLISHED event was never seen (the webhook
    // queue drops intermediate events when it backs up) is found by REST and ended.
    while ([...tracks.values()].some((t) => t.endAt === undefined) && performance.now() < cut) {
      await sleep(250);
      for (const [callId, t] of tracks) {
        if (t.endAt === undefined && t.estAt === undefined && performance.now() - t.sentAt > 5000) {
          const f = await rest(base, '/call/find', { callId });
          const st = (f.body as { status?: string }[] | undefined)?.[0]?.status;
          if (st === 'ESTABLISHED') {
            t.failure = 'ESTABLISHED event not seen';
            terminate(callId);
          }
        }
      }
    }
    for (const [callId, t] of tracks) {
      if (t.endAt === undefined) {
        t.failure ??= 'not ended at the cut';
        terminate(callId);
      }
    }
    // Nothing of this series may run into the next: end whatever is still live.
    const noneLive = async (): Promise<boolean> => (await rest(base, '/call/find_all', {})).status === 404;
    if (!(await waitUntil(noneLive, 5000, 200).catch(() => false))) {
      const live = await rest(base, '/call/find_all', {}).catch(() => ({ body: [] }));
      for (const c of Array.isArray(live.body) ? (live.body as { callId: string }[]) : []) terminate(c.callId);
    }
    // Calls cut off end now (CANCEL or BYE); transcoders exit after their call, and
    // their CPU is in cutime once reaped.
    await waitUntil(noneLive, 10_000, 200).catch(() => undefined);
    await waitUntil(() => childrenNamed(gwPid, 'ffmpeg').length === 0, 15_000, 100).catch(() => undefined);
    const leftover = { calls: (await noneLive().catch(() => false)) ? 0 : -1, ffmpeg: childrenNamed(gwPid, 'ffmpeg').length };
    await sleep(300);
    clearInterval(sampler);
    clearInterval(prober);
    probes.sort((a, b) => a - b);
    const wallS = (performance.now() - start) / 1000;
    const cpu1 = cpuTimes(gwPid);
    const host1 = hostCpu();

    const all = [...tracks.values()];
    const est = all.filter((t) => t.estAt !== undefined);
    const lat = est.map((t) => t.estAt! - t.sentAt).sort((a, b) => a - b);
    const estTimes = est.map((t) => t.estAt!).sort((a, b) => a - b);
    const span = ((estTimes[estTimes.length - 1] ?? 0) - (estTimes[0] ?? 0)) / 1000;
    const failures: Record<string, number> = {};
    for (const t of all) if (t.estAt === undefined) failures[t.failure ?? 'unknown'] = (failures[t.failure ?? 'unknown'] ?? 0) + 1;
    const nodeS = Math.max(0, cpu1.self - cpu0.self - idleCores * wallS);
    const ffS = cpu1.children - cpu0.children;
    const per = (s: number): number => (est.length ? (s * 1000) / est.length : NaN);
    const setupsPerS = est.length > 1 && span > 0 ? (est.length - 1) / span : NaN;
    const p95 = quantile(lat, 0.95);
    return {
      answer, offeredPerS: rate, durationS: seconds, calls: tracks.size, stoppedAtS, leftover, established: est.length, failed: tracks.size - est.length, failures,
      setupsPerS, latencyMs: { p50: quantile(lat, 0.5), p95, max: lat[lat.length - 1] ?? NaN },
      cpuMsPerSetup: { node: per(nodeS), ffmpeg: per(ffS), total: per(nodeS + ffS) },
      gatewayCores: (cpu1.self - cpu0.self + ffS) / wallS,
      peakLiveCalls: peakLive, peakFfmpeg: peakFf, nodeRssMaxMiB: rssMax, ffmpegRssPeakMiB: ffRssPeak,
      hostBusyPct: ((host1[0] - host0[0]) / (host1[1] - host0[1])) * 100, wallS,
      probeMs: { p50: quantile(probes, 0.5), p95: quantile(probes, 0.95), max: probes[probes.length - 1] ?? NaN },
      sustained: stoppedAtS === null && est.length === n && setupsPerS >= 0.95 * rate && p95 < 1000,
    };
  };

  // Warm-up (module loading, JIT, the cached black slate), then the idle baseline subtracted per series.
  let idleCores = 0;
  await series('av', 4, 1);
  await series('video', 4, 1);
  await sleep(1500);
  const idle = (await measure([gwPid], 5)).get(gwPid)!;
  idleCores = idle.cpuPct / 100;
  const results: SeriesResult[] = [];
  // Cheapest first: an overloaded series leaves work behind (ffmpeg children still exiting).
  for (const [answer, r] of [...videoRates.map((x) => ['video', x] as const), ...avRates.map((x) => ['av', x] as const)]) {
    results.push(await series(answer, r, durationS));
    process.stderr.write(`${line(results[results.length - 1]!)}\n`);
    await sleep(1000);
  }
  const gwErrors = tail(gwLog);
  await stopChild(gwChild, gwExited, 10_000);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', loadavgBefore: loadBefore, node: process.version, ffmpeg: ffv },
    code: { commit, srcDirty: dirty },
    params: { durationS, holdMs, avRates, videoRates, drainMs: DRAIN_MS, maxLive },
    idleNode: { cpuPct: idle.cpuPct, rssMeanMiB: idle.rssMeanMiB },
    series: results,
    sippErrors: { av: uas.av.errors().slice(-1000), video: uas.video.errors().slice(-1000) },
    gatewayLogTail: gwErrors.slice(-2000),
    totalS: (performance.now() - t0) / 1000,
  };
  const md = render(result);
  mkdirSync(argv.out!, { recursive: true });
  writeFileSync(path.join(argv.out!, 'sip-setup-rate.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(argv.out!, 'sip-setup-rate.md'), md);
  process.stdout.write(md);
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
const ANSWER = { av: 'PCMA + H.264', video: 'H.264 only' } as const;

function line(s: SeriesResult): string {
  return `${ANSWER[s.answer]} @ ${s.offeredPerS}/s: ${s.established}/${s.calls} established, ${f1(s.setupsPerS)}/s, ` +
    `p50 ${f0(s.latencyMs.p50)} ms p95 ${f0(s.latencyMs.p95)} ms, ${f1(s.cpuMsPerSetup.total)} ms CPU/setup`;
}

/** The Markdown report. */
function render(r: {
  date: string; machine: { cpus: number; model: string; loadavgBefore: number[]; node: string; ffmpeg: string };
  code: { commit: string; srcDirty: boolean }; idleNode: { cpuPct: number; rssMeanMiB: number }; series: SeriesResult[]; totalS: number;
}): string {
  const rows = r.series.map((s) => {
    const fails = Object.entries(s.failures).map(([k, v]) => `${v} ${k}`).join(', ');
    const stop = s.stoppedAtS === null ? '' : ` (stopped at ${f1(s.stoppedAtS)} s: ${maxLive} live)`;
    const left = s.leftover.calls !== 0 || s.leftover.ffmpeg !== 0 ? `; left running: ${s.leftover.calls ? 'calls, ' : ''}${s.leftover.ffmpeg} ffmpeg` : '';
    return `| ${ANSWER[s.answer]} | ${s.offeredPerS} | ${s.calls}${stop} | ${s.established} | ${s.failed}${fails ? ` (${fails})` : ''} | ` +
      `**${f1(s.setupsPerS)}**${s.sustained ? '' : ' (not sustained)'} | ${f0(s.latencyMs.p50)} / ${f0(s.latencyMs.p95)} / ${f0(s.latencyMs.max)} | ` +
      `${f1(s.cpuMsPerSetup.node)} + ${f1(s.cpuMsPerSetup.ffmpeg)} = **${f1(s.cpuMsPerSetup.total)}** | ${f2(s.gatewayCores)} | ` +
      `${s.peakLiveCalls} / ${s.peakFfmpeg} | ${f0(s.nodeRssMaxMiB)} + ${f0(s.ffmpegRssPeakMiB)} | ${f0(s.probeMs.p95)} / ${f0(s.probeMs.max)} | ${f0(s.hostBusyPct)}${left} |`;
  });
  const d = r.series[0]?.durationS ?? 0;
  return [
    `# Call setup rate (${r.date})`,
    '',
    `Each series offers \`POST /call/startup\` at a fixed rate for ${d} s to a SIPp UAS that sends no media; ` +
      `each call is terminated ${holdMs} ms after its ESTABLISHED webhook event. Far-end answer "PCMA + H.264": every call ` +
      'opens an in-process G.711 → AAC engine on a codec worker thread; "H.264 only" (audio m-line rejected with port 0): no audio, no transcoder. ' +
      'Every call also publishes to the embedded RTMP server and posts its status events to the bench\'s webhook receiver.',
    '',
    '| far end answers | offered /s | calls | established | failed | setups /s¹ | latency ms p50 / p95 / max² | CPU ms per setup: node³ + ffmpeg = total | gateway cores⁴ | peak live calls / ffmpeg | RSS MiB max: node + ffmpeg⁵ | REST probe ms p95 / max⁶ | host busy % |',
    '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    '¹ ESTABLISHED events per second between the first and the last of the series. ' +
      '² From sending the startup request to receiving the ESTABLISHED event (the webhook posts a call\'s events in order, ' +
      'so it includes the delivery of PENDING/TRYING/RING before it). ' +
      `³ node utime+stime over the series minus the idle baseline (${f1(r.idleNode.cpuPct)} % of a core), per established call; ` +
      'ffmpeg: cutime+cstime of the node process (its reaped children), per established call. ' +
      '⁴ Mean cores busy (node + ffmpeg) from the first startup until every call had ended. ' +
      '⁵ Peak of the sum of the live ffmpeg children\'s VmRSS (shared libraries counted once per process, so an upper bound). ' +
      '⁶ Round trip of `POST /call/find` for an unknown call (404), sent every 200 ms: how responsive the gateway stayed. ' +
      '"Not sustained": not every call established, or below 95 % of the offered rate, or p95 latency ≥ 1 s.',
    '',
    `Machine: ${r.machine.cpus} × ${r.machine.model}, load average before ${r.machine.loadavgBefore.map(f2).join(' ')}; ` +
      `the bench (REST client + webhook receiver) and SIPp run on the same host. Node ${r.machine.node}; ` +
      `${r.machine.ffmpeg.replace(/ Copyright.*$/, '')}. Code: ${r.code.commit}${r.code.srcDirty ? ' with uncommitted changes in src/' : ''}. ` +
      `Run took ${f1(r.totalS)} s.`,
    '',
  ].join('\n');
}

runBench(main, closers);
