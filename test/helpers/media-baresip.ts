/**
 * baresip 1.0 as an auto-answering audio far end (G.711, a 440 Hz sine as
 * its microphone) with an RTP timeout: it hangs up when no RTP arrives from
 * us for `rtpTimeoutS` — the softphone behaviour SPEC §9.4 records.
 * Settings from PEERS.md: `net_interface 127.0.0.1`; auto answer only for
 * the account's own user (`gw`); no stdio module (no terminal in tests).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnChild, stopChild } from './proc.js';
import { freeUdpPort } from './ports.js';
import { waitUntil } from './wait.js';
import { udpPortBound } from './sipp.js';

export interface BaresipFarEnd {
  sipPort: number;
  /** The request URI to call. */
  uri: string;
  /** stdout + stderr so far. */
  log(): string;
  close(): Promise<void>;
}

export async function startBaresip(opts: { rtpTimeoutS: number }): Promise<BaresipFarEnd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'baresip-'));
  const sipPort = await freeUdpPort();
  writeFileSync(path.join(dir, 'config'), [
    'poll_method epoll',
    `sip_listen 127.0.0.1:${sipPort}`,
    'net_interface 127.0.0.1',
    'audio_player aufile,/dev/null',
    'audio_source ausine,440',
    'audio_alert aufile,/dev/null',
    `rtp_timeout ${opts.rtpTimeoutS}`,
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module ausine.so',
    'module aufile.so',
    'module account.so',
    'module_app menu.so',
    '',
  ].join('\n'));
  writeFileSync(path.join(dir, 'accounts'), '<sip:gw@127.0.0.1>;regint=0;answermode=auto\n');
  const logFile = path.join(dir, 'out.log');
  writeFileSync(logFile, '');
  const proc = spawnChild('baresip', ['-f', dir]);
  proc.child.stdout?.on('data', (d: Buffer) => writeFileSync(logFile, d, { flag: 'a' }));
  proc.child.stderr?.on('data', (d: Buffer) => writeFileSync(logFile, d, { flag: 'a' }));
  const log = (): string => readFileSync(logFile, 'utf8');
  await waitUntil(() => udpPortBound(sipPort) && log().includes('baresip is ready'), 10_000, 50, 'baresip ready');
  return {
    sipPort,
    uri: `sip:gw@127.0.0.1:${sipPort}`,
    log,
    close: () => stopChild(proc.child, proc.exited, 2000),
  };
}
