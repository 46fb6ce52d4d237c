/**
 * Vitest global setup: the real peers must be installed (a missing tool
 * fails the run, it never skips), and the media fixtures must exist.
 */
import { makeMedia } from '../fixtures/make-media.js';
import { existsSync } from 'node:fs';
import { requireTools } from './tools.js';

/** baresip's video modules (Debian `baresip-ffmpeg`): the video far end needs them. */
const BARESIP_VIDEO_MODULES = ['/usr/lib/baresip/modules/avcodec.so', '/usr/lib/baresip/modules/avformat.so'];

export default async function globalSetup(): Promise<void> {
  requireTools(['ffmpeg', 'ffprobe', 'sipp', 'nginx', 'kamailio', 'baresip', 'chromium', 'openssl', 'redis-server']);
  const missing = BARESIP_VIDEO_MODULES.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`missing ${missing.join(', ')}: install the Debian package baresip-ffmpeg (bash scripts/install.sh --test)`);
  await makeMedia();
}
