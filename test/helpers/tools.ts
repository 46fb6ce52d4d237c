/** Presence checks for the external programs the real-peer tests drive. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Where an executable named `name` lives on PATH (plus the sbin dirs), or null. */
export function whichTool(name: string): string | null {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!dirs.includes(extra)) dirs.push(extra);
  for (const dir of dirs) {
    const full = path.join(dir, name);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return null;
}

/** Debian package that provides each tool, for the error message. */
const PACKAGES: Record<string, string> = {
  ffmpeg: 'ffmpeg',
  ffprobe: 'ffmpeg',
  sipp: 'sip-tester',
  nginx: 'nginx + libnginx-mod-rtmp',
  tcpdump: 'tcpdump',
  kamailio: 'kamailio',
  baresip: 'baresip-core',
  chromium: 'chromium',
  openssl: 'openssl',
};

/**
 * Throws naming every missing tool. A missing tool fails the run: real-peer
 * tests are never skipped silently.
 */
export function requireTools(names: readonly string[]): Record<string, string> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of names) {
    const p = whichTool(n);
    if (p === null) missing.push(n);
    else found[n] = p;
  }
  if (missing.length > 0) {
    const hints = missing.map((m) => `${m} (Debian package: ${PACKAGES[m] ?? m})`).join(', ');
    throw new Error(`Required tool(s) not found on PATH: ${hints}. Install them; real-peer tests do not skip.`);
  }
  return found;
}
