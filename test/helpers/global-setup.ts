/**
 * Vitest global setup: the real peers must be installed (a missing tool
 * fails the run, it never skips), and the media fixtures must exist.
 */
import { makeMedia } from '../fixtures/make-media.js';
import { requireTools } from './tools.js';

export default async function globalSetup(): Promise<void> {
  requireTools(['ffmpeg', 'ffprobe', 'sipp', 'nginx', 'kamailio', 'baresip', 'chromium', 'openssl']);
  await makeMedia();
}
