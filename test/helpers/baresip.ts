/**
 * baresip 1.0.0 (Debian `baresip`) as a real softphone far end, started by a
 * test on 127.0.0.1 in the foreground (we keep its PID). One account that
 * registers with a registrar (e.g. Kamailio from test/helpers/kamailio.ts)
 * and auto-answers every call, with a sine as microphone and G.711 only.
 * Config templates live in test/fixtures/baresip/. PEERS.md traps handled:
 * `net_interface 127.0.0.1`, no avformat audio source.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChild, stopChild } from './proc.js';
import { udpPortBound } from './sipp.js';
import { waitUntil } from './wait.js';
import { BARESIP_VIDEO_LINES } from './media-baresip.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'baresip');

export interface BaresipOptions {
  /** Its own SIP port (UDP) on 127.0.0.1. */
  sipPort: number;
  /** Even RTP port range start; it uses `rtpMin`..`rtpMin + 9`. */
  rtpMin: number;
  /** Account: `sip:<user>@<domain>`, digest password, registered at 127.0.0.1:`registrarPort`. */
  user: string;
  domain: string;
  password: string;
  registrarPort: number;
  /** Registration interval asked for, seconds. Default 60. */
  regintS?: number;
  /** Also send and take live H.264 video (BARESIP_VIDEO_LINES). */
  video?: boolean;
}

export interface Baresip {
  pid: number;
  sipPort: number;
  /** Everything it printed (stdout + stderr, with `-v` and SIP trace `-s`). */
  log(): string;
  /** Resolves when its output matches `re`; rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startBaresip(opts: BaresipOptions): Promise<Baresip> {
  const dir = mkdtempSync(path.join(tmpdir(), 'baresip-'));
  const fill = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8')
    .replaceAll('@@SIP_PORT@@', String(opts.sipPort))
    .replaceAll('@@RTP_MIN@@', String(opts.rtpMin))
    .replaceAll('@@RTP_MAX@@', String(opts.rtpMin + 9))
    .replaceAll('@@USER@@', opts.user)
    .replaceAll('@@DOMAIN@@', opts.domain)
    .replaceAll('@@PASSWORD@@', opts.password)
    .replaceAll('@@REGISTRAR_PORT@@', String(opts.registrarPort))
    .replaceAll('@@REGINT@@', String(opts.regintS ?? 60));
  writeFileSync(path.join(dir, 'config'), [fill('config.tmpl'), ...(opts.video ? BARESIP_VIDEO_LINES : []), ''].join('\n'));
  writeFileSync(path.join(dir, 'accounts'), fill('accounts.tmpl'));
  writeFileSync(path.join(dir, 'contacts'), '');
  const { child, exited } = spawnChild('baresip', ['-f', dir, '-v', '-s'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: string): void => {
    if (out.length < 4 * 1024 * 1024) out += d;
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  if (child.pid === undefined) throw new Error('baresip: spawn failed');
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  let closed: Promise<void> | undefined;
  const b: Baresip = {
    pid: child.pid,
    sipPort: opts.sipPort,
    log: () => out,
    waitFor: (re, ms = 10_000) => waitUntil(() => {
      if (code !== undefined) throw new Error(`baresip exited ${code}\n${out.slice(-3000)}`);
      return re.test(out);
    }, ms, 50, `baresip output ${re}`).then(() => undefined),
    close() {
      closed ??= (async () => {
        await stopChild(child, exited, 3000);
        rmSync(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
  try {
    await waitUntil(() => {
      if (code !== undefined) throw new Error(`baresip exited ${code}`);
      return udpPortBound(opts.sipPort);
    }, 10_000, 50, `baresip did not bind 127.0.0.1:${opts.sipPort}`);
  } catch (err) {
    await b.close();
    throw new Error(`${(err as Error).message}\n${out.slice(-4000)}`);
  }
  return b;
}
