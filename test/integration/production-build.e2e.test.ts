/**
 * Production runs compiled JavaScript: `npm run build` gives `dist/`, and
 * `node dist/main.js` (what scripts/start.sh and the Dockerfile run) serves
 * REST and the dashboard, forks the embedded server from `dist/`, and exits 0
 * on SIGTERM — with no TypeScript loader anywhere in the process tree.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, spawnChild, stopChild, freeTcpPort, freeUdpPort, waitUntil, childProcesses } from '../helpers/index.js';

describe('compiled gateway (dist/)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-dist-'));
  let gw: ReturnType<typeof spawnChild> | undefined;
  afterAll(async () => {
    if (gw) await stopChild(gw.child, gw.exited);
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds, serves REST and the dashboard, runs the embedded server from dist, exits 0 on SIGTERM', async () => {
    const build = await run('npm', ['run', '--silent', 'build'], { timeoutMs: 120_000 });
    expect(build.code, build.stderr).toBe(0);
    expect(existsSync('dist/main.js') && existsSync('dist/rtmp/embedded-child.js') && existsSync('dist/dashboard/public/index.html')).toBe(true);

    const [rest, rtmp, flv, sip] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeUdpPort()];
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      rest: { httpPort: rest }, sip: { port: sip }, rtmp: { embedded: { rtmpPort: rtmp, httpPort: flv } }, capture: { path: join(dir, 'captures.db') },
    }));
    gw = spawnChild(process.execPath, ['dist/main.js', '--config', config]);
    let log = '';
    gw.child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));

    const res = await waitUntil(() => fetch(`http://127.0.0.1:${rest}/rest-api/call/find_all`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
    }).catch(() => undefined), 20_000, 100, `REST on ${rest}; log: ${log}`);
    expect(res.status).toBe(404);
    expect((await res.json() as any).message).toBe('there are no calls');
    const page = await fetch(`http://127.0.0.1:${rest}/dashboard/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');

    const pid = gw.child.pid!;
    const embedded = await waitUntil(() => childProcesses(pid).find((c) => c.cmdline.includes('embedded-child')), 10_000);
    expect(embedded.cmdline).toContain('dist/rtmp/embedded-child.js');
    expect([...childProcesses(pid).map((c) => c.cmdline), log].join('\n')).not.toMatch(/tsx/);

    process.kill(pid, 'SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(log).toContain('gateway stopped');
  });

  /** Opens an AAC engine on a compiled codec worker, writes 2 s of A-law, prints the frames that came back. */
  const codecScript = (dist: string): string => `
      import { CodecPool } from '${dist}/transcode/index.js';
      const pool = new CodecPool(1);
      let frames = 0;
      const id = pool.open((m) => {
        if (m.t === 'frame') frames++;
        if (m.t === 'failed') { console.log('failed', m.message); process.exit(1); }
        if (m.t === 'closed') { console.log('frames', frames); pool.terminate(); }
      }, { t: 'open', opts: { inputCodec: 'PCMA', outputRate: 48000, bitrate: 64000 } });
      for (let k = 0; k < 100; k++) pool.write(id, Buffer.alloc(160, 0x55), k * 20);
      pool.close(id);`;

  it('the compiled codec worker encodes AAC with plain node (no TypeScript loader)', async () => {
    expect(existsSync('dist/transcode/codec-worker.js')).toBe(true);
    const r = await run(process.execPath, ['--input-type=module', '-e', codecScript('./dist')], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`frames ${Math.ceil((2 * 48000) / 1024)}`);
  });

  it('codec workers start when node runs with V8 flags an operator may add (heap sizes)', async () => {
    const file = join(dir, 'codec-check.mjs');
    writeFileSync(file, codecScript(join(process.cwd(), 'dist')));
    const r = await run(process.execPath, ['--max-old-space-size=2048', '--max-semi-space-size=16', file], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`frames ${Math.ceil((2 * 48000) / 1024)}`);
  });
});
