import { describe, it, expect } from 'vitest';
import dgram from 'node:dgram';
import { CallMedia } from '../../../src/call/call-media.js';
import { PortAllocator } from '../../../src/rtp/port-allocator.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { freeUdpPortRange } from '../../helpers/ports.js';

function media(ports: PortAllocator): CallMedia {
  return new CallMedia({ ports, jitterBufferMs: 50, transcode: { audioBitrate: 64000, audioSampleRate: 48000 }, log: silentLogger() });
}

async function bindable(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => resolve(true));
  });
  s.close();
  return ok;
}

describe('CallMedia.allocate', () => {
  it('a call closed while its ports are being allocated gets none, and every port is released', async () => {
    const base = await freeUdpPortRange(8);
    const ports = new PortAllocator({ min: base, max: base + 7, host: '127.0.0.1' });
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      const m = media(ports);
      const pending = m.allocate().then((p) => (p === undefined ? 'closed' : 'allocated'), (e: unknown) => `wrong: ${String(e)}`);
      // Close at different points of the allocation: at once, a tick later, an I/O turn later (one or both pairs bound).
      for (let k = 0; k < i % 3; k++) await new Promise((r) => setImmediate(r));
      await m.close();
      outcomes.push(await pending);
    }
    expect(outcomes.filter((o) => o !== 'allocated' && o !== 'closed')).toEqual([]);
    expect(outcomes.filter((o) => o === 'closed').length).toBeGreaterThanOrEqual(10);
    for (let p = base; p < base + 8; p++) expect(await bindable(p)).toBe(true);
  });

  it('an open call gets two pairs, released on close', async () => {
    const base = await freeUdpPortRange(8);
    const m = media(new PortAllocator({ min: base, max: base + 7, host: '127.0.0.1' }));
    const { audioPort, videoPort } = (await m.allocate())!;
    expect(audioPort).not.toBe(videoPort);
    expect(await bindable(audioPort)).toBe(false);
    await m.close();
    expect(await bindable(audioPort)).toBe(true);
    expect(await bindable(videoPort + 1)).toBe(true);
  });
});
