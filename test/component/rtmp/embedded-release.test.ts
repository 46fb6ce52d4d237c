/**
 * node-media-server keeps a disconnected publisher's session for its resume
 * window; the embedded server releases that session's 1 MiB FLV parser
 * buffer once the socket has closed, and leaves the resume window alone.
 */
import { describe, it, expect } from 'vitest';
import nmsContext from 'node-media-server/src/core/context.js';
import type NodeMediaServer from 'node-media-server';
import { runNodeMediaServer } from '../../../src/rtmp/embedded-nms.js';
import { RtmpPublisher } from '../../../src/rtmp/publisher.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freeTcpPort } from '../../helpers/ports.js';
import { waitUntil } from '../../helpers/wait.js';

const log = silentLogger();

describe('embedded server: a closed publisher', () => {
  it('frees its FLV parser buffer while its publish stays resumable', async () => {
    // node-media-server in this process (as its child process runs it), to look inside.
    const rtmpPort = await freeTcpPort();
    const nmsLog = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
    const server = await runNodeMediaServer({ host: '127.0.0.1', rtmpPort, httpPort: await freeTcpPort(), auth: { secret: 's'.repeat(16), publish: false, play: false }, log: nmsLog });
    try {
      const p = new RtmpPublisher({ url: `rtmp://127.0.0.1:${rtmpPort}/live`, streamName: 'release_s1', log, connectTimeoutMs: 3000 });
      const publishing = new Promise<void>((resolve) => p.once('publishing', () => resolve()));
      p.start();
      await publishing;
      const broadcast = nmsContext.broadcasts.get('/live/release_s1') as { publisher: NodeMediaServer.NmsSession | null } | undefined;
      const session = broadcast?.publisher;
      expect(session?.rtmp?.flv?.parserTagData.length).toBeGreaterThan(0);
      await p.close();
      await waitUntil(() => session?.rtmp?.flv?.parserTagData.length === 0, 5000, 20);
      // Still the same publish, kept for a resume (node-media-server's window).
      expect(nmsContext.broadcasts.get('/live/release_s1')).toBe(broadcast);
      expect(broadcast?.publisher).toBe(session);
    } finally {
      await server.close();
    }
  }, 30_000);
});
