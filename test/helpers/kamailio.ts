/**
 * Kamailio 5.6 (Debian `kamailio`) as registrar and loose-routing proxy with
 * digest auth, started by a test on 127.0.0.1 (UDP and TCP on one port), in
 * the foreground (`-DD -E`) so we keep its PID. Users and static routes live
 * in htables filled at start (no database); see test/fixtures/kamailio/.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnChild, stopChild } from './proc.js';
import { udpPortBound, tcpPortListening } from './sipp.js';
import { waitUntil } from './wait.js';

const TEMPLATE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kamailio', 'kamailio.cfg.tmpl');

export interface KamailioOptions {
  port: number;
  /** The SIP domain it is the registrar for (an alias of itself). */
  domain: string;
  /** user → password for digest auth (REGISTER: 401, INVITE: 407). */
  users: Record<string, string>;
  /** Request-URI user → `sip:host:port` next hop, for far ends that do not register. */
  routes?: Record<string, string>;
  debug?: number;
}

export interface Kamailio {
  pid: number;
  port: number;
  /** Everything it logged (stderr): `REQ <method> <ruri> ...` and `REGISTER ok ...` lines. */
  log(): string;
  close(): Promise<void>;
}

function htableLines(name: string, entries: Record<string, string>): string {
  return Object.entries(entries).map(([k, v]) => `\t$sht(${name}=>${k}) = "${v.replace(/"/g, '')}";`).join('\n');
}

export async function startKamailio(opts: KamailioOptions): Promise<Kamailio> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kamailio-'));
  const cfg = readFileSync(TEMPLATE, 'utf8')
    .replaceAll('@@PORT@@', String(opts.port))
    .replaceAll('@@DOMAIN@@', opts.domain)
    .replaceAll('@@DEBUG@@', String(opts.debug ?? 2))
    .replace('@@USERS@@', htableLines('users', opts.users))
    .replace('@@ROUTES@@', htableLines('routes', opts.routes ?? {}));
  const cfgPath = path.join(dir, 'kamailio.cfg');
  writeFileSync(cfgPath, cfg);
  const { child, exited } = spawnChild('kamailio', ['-DD', '-E', '-f', cfgPath, '-Y', dir, '-w', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: string): void => {
    if (out.length < 4 * 1024 * 1024) out += d;
  };
  child.stderr?.setEncoding('utf8').on('data', keep);
  child.stdout?.setEncoding('utf8').on('data', keep);
  if (child.pid === undefined) throw new Error('kamailio: spawn failed');
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  let closed: Promise<void> | undefined;
  const k: Kamailio = {
    pid: child.pid,
    port: opts.port,
    log: () => out,
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
      if (code !== undefined) throw new Error(`kamailio exited ${code}`);
      return udpPortBound(opts.port) && tcpPortListening(opts.port);
    }, 10_000, 50, `kamailio did not bind 127.0.0.1:${opts.port}`);
  } catch (err) {
    await k.close();
    throw new Error(`${(err as Error).message}\n${out.slice(-4000)}`);
  }
  return k;
}
