/**
 * The REST port against a web attacker, on 127.0.0.1 (a second loopback
 * address, 127.0.0.2, plays the stranger): a cross-site form cannot start a
 * call, a DNS-rebound name or a foreign Origin is refused, the default bind
 * is unreachable from another address, rest.users apply in every profile,
 * /metrics needs credentials when users exist, and no PIN reaches the logs.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { SippFarEnds } from '../helpers/sipp.js';
import { startNginxRtmp, type NginxRtmp } from '../helpers/nginx.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

let gw: TestGateway;
let guarded: TestGateway;
let nginx: NginxRtmp;
const fars = new SippFarEnds();
const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

beforeAll(async () => {
  nginx = await startNginxRtmp();
  gw = await startTestGateway();
  // Profile dev with users: they are enforced all the same; a scraper has its own credential.
  guarded = await startTestGateway({
    rest: { users: [{ name: 'ops', password: 'secret-1' }], metricsUsers: [{ name: 'prom', password: 'scrape-1' }] },
    rtmp: { embedded: { enabled: false } }, // one embedded server per process
  });
});

afterAll(async () => {
  await fars.closeAll();
  await gw?.close();
  await guarded?.close();
  await nginx?.close();
  await assertNoChildProcesses();
});

/** A UDP socket standing where a call would go: nothing may arrive. */
async function silentFarEnd(): Promise<{ port: number; got: Buffer[]; close(): void }> {
  const s = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, got, close: () => s.close() };
}

describe('cross-site and rebinding requests', () => {
  it('a text/plain or form startup (what a cross-site form sends) places no call: 415', async () => {
    const far = await silentFarEnd();
    try {
      const body = JSON.stringify({ callee: `sip:victim@127.0.0.1:${far.port}`, toStream: 'csrf' });
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        const res = await fetch(`${gw.baseUrl}/rest-api/call/startup`, { method: 'POST', headers: { 'content-type': type }, body });
        expect(res.status).toBe(415);
        expect(await res.json()).toMatchObject({ status: 415, message: 'Content-Type must be application/json' });
      }
      await new Promise((r) => setTimeout(r, 500));
      expect(far.got).toEqual([]);
      expect((await gw.rest('/call/find_all', {})).status).toBe(404);
    } finally {
      far.close();
    }
  });

  it('a foreign Host (DNS rebinding) is refused on every route; loopback names and IPs pass', async () => {
    const port = gw.gw.restPort;
    const get = (path: string, host: string): Promise<number> => new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.end(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
      let data = '';
      sock.on('data', (d) => (data += d.toString()));
      sock.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0)));
      sock.on('error', reject);
    });
    for (const path of ['/healthz', '/metrics', '/dashboard/api/calls', '/hls/x/index.m3u8']) {
      expect(await get(path, `rebind.attacker.example:${port}`)).toBe(403);
    }
    expect(await get('/healthz', `localhost:${port}`)).toBe(200);
    expect(await get('/healthz', `127.0.0.1:${port}`)).toBe(200);
    const res = await fetch(`${gw.baseUrl}/rest-api/call/find_all`, { method: 'POST', headers: { 'content-type': 'application/json', host: 'evil.example' }, body: '{}' });
    // fetch keeps its own Host; the raw requests above carry the forged one.
    expect(res.status).toBe(404);
  });

  it('a POST whose Origin is another site is refused; the page\'s own origin passes', async () => {
    const far = await silentFarEnd();
    try {
      const body = { callee: `sip:victim@127.0.0.1:${far.port}`, toStream: 'cors' };
      const evil = await gw.rest('/call/startup', body, { headers: { origin: 'http://evil.example' } });
      expect(evil.status).toBe(403);
      expect(evil.body.message).toBe('cross-origin request refused');
      const nullOrigin = await gw.rest('/call/find_all', {}, { headers: { origin: 'null' } });
      expect(nullOrigin.status).toBe(403);
      const own = await gw.rest('/call/find_all', {}, { headers: { origin: gw.baseUrl } });
      expect(own.status).toBe(404);
      await new Promise((r) => setTimeout(r, 300));
      expect(far.got).toEqual([]);
    } finally {
      far.close();
    }
  });

  it('the default bind (127.0.0.1) cannot be reached at another address', async () => {
    const refused = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: '127.0.0.2', port: gw.gw.restPort });
      sock.on('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});

describe('credentials', () => {
  it('rest.users apply in profile dev too: REST and dashboard 401 without them', async () => {
    expect((await guarded.rest('/call/find_all', {})).status).toBe(401);
    expect((await fetch(`${guarded.baseUrl}/dashboard/api/calls`)).status).toBe(401);
    expect((await guarded.rest('/call/find_all', {}, { headers: { authorization: basic('ops', 'secret-1') } })).status).toBe(404);
  });

  it('/metrics: 401 without credentials, 200 for a user or the scrape credential (which opens nothing else)', async () => {
    const m = (auth?: string): Promise<Response> => fetch(`${guarded.baseUrl}/metrics`, { headers: auth ? { authorization: auth } : {} });
    const anon = await m();
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await m(basic('ops', 'secret-1'))).status).toBe(200);
    const scraped = await m(basic('prom', 'scrape-1'));
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^gateway_calls_live /m);
    expect((await guarded.rest('/call/find_all', {}, { headers: { authorization: basic('prom', 'scrape-1') } })).status).toBe(401);
  });
});

describe('secrets', () => {
  it('a joinDtmf PIN and send_dtmf digits never reach the logs', async () => {
    const far = await fars.uas('uas-answer.xml');
    const callId = 'pin-call-1';
    const res = await gw.rest('/call/startup', {
      callId, callee: `sip:room@127.0.0.1:${far.sipPort}`, toStream: 'pin_call', rtmpUrl: nginx.rtmpUrl, rtmpStream: 'pin_key',
      joinDtmf: { digits: '918273#', delayMs: 200, type: 'RFC2833' },
    });
    expect(res.status).toBe(200);
    await waitUntil(() => gw.gw.calls.registry.all().some((c) => c.callId === callId && c.status === 'ESTABLISHED'), 15_000, 100, 'ESTABLISHED');
    await waitUntil(() => gw.logs().some((l) => l.callId === callId && l.msg === 'DTMF queued'), 5000, 50, 'joinDtmf queued');
    expect((await gw.rest('/call/send_dtmf', { callId, dtmf: '564738', type: 'RFC2833' })).status).toBe(200);
    await waitUntil(() => gw.logs().filter((l) => l.callId === callId && l.msg === 'DTMF queued').length === 2, 5000, 50, 'send_dtmf queued');
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    const text = JSON.stringify(gw.logs());
    expect(text).not.toContain('918273');
    expect(text).not.toContain('564738');
  });
});
