/**
 * The live dashboard in a real browser: Debian's Chromium, headless, driven by
 * playwright-core. The gateway runs in profile `production` (Basic auth on the
 * page and the REST API); a SIPp UAS answers with H.264 + PCMA; the page must
 * show the call ESTABLISHED / RTMP_STREAM_ACTIVE with codecs and a bitrate,
 * play the embedded server's HTTP-FLV in its preview (mpegts.js), and end the
 * call with its Terminate button.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { generatedDir } from '../fixtures/make-media.js';

const CHROMIUM = '/usr/bin/chromium';
const USER = { name: 'admin', password: 'dash-secret-7' };
const AUTH = { authorization: `Basic ${Buffer.from(`${USER.name}:${USER.password}`).toString('base64')}` };

let gw: TestGateway;
let hooks: WebhookReceiver;
let far: SippProcess | undefined;
let browser: BrowserContext | undefined;
let profileDir: string | undefined;

/** Width, height and luminance standard deviation of an 8-bit RGB/RGBA, non-interlaced PNG (RFC 2083). */
function pngStats(png: Buffer): { width: number; height: number; lumaStdDev: number } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8); // bit depth
      expect(data[12]).toBe(0); // no interlace
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels).toBeGreaterThan(0);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  let prev = Buffer.alloc(stride);
  let sum = 0;
  let sumSq = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (line[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[i] = ((line[i] as number) + pred) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const p = x * channels;
      const luma = 0.299 * (line[p] as number) + 0.587 * (line[p + 1] as number) + 0.114 * (line[p + 2] as number);
      sum += luma;
      sumSq += luma * luma;
    }
    prev = line;
  }
  const n = width * height;
  return { width, height, lumaStdDev: Math.sqrt(Math.max(0, sumSq / n - (sum / n) ** 2)) };
}

async function cellText(page: Page, callId: string, field: string): Promise<string> {
  return (await page.locator(`tr[data-call-id="${callId}"] [data-field="${field}"]`).textContent()) ?? '';
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/install.sh --test`);
  hooks = await startWebhookReceiver();
  gw = await startTestGateway({
    profile: 'production', rest: { users: [USER] },
    webhook: { apps: { callApp: hooks.baseUrl } },
  });
});

afterAll(async () => {
  await browser?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  // The gateway first: a call still up hangs up while the far end can still answer the BYE.
  await gw?.close();
  await far?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

describe('dashboard in headless Chromium', () => {
  it('needs credentials in production', async () => {
    for (const p of ['/dashboard/', '/dashboard/api/calls', '/dashboard/events']) {
      const res = await fetch(`${gw.baseUrl}${p}`);
      expect(res.status, p).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="gateway"');
      await res.body?.cancel();
    }
    const ok = await fetch(`${gw.baseUrl}/dashboard/api/calls`, { headers: AUTH });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ calls: [], player: { flv: { port: gw.config.rtmp.embedded.httpPort, app: 'live' }, hls: true } });
    const bare = await fetch(`${gw.baseUrl}/dashboard`, { headers: AUTH, redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/dashboard/');
  });

  it('lists a live call with codecs and bitrate, plays its stream, sends DTMF and terminates it', async () => {
    far = await startSippUas({ scenario: 'uas-answer.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4), vars: { video_loops: '5' } });
    profileDir = mkdtempSync(path.join(tmpdir(), 'dash-chromium-'));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
      httpCredentials: { username: USER.name, password: USER.password },
      viewport: { width: 1400, height: 700 },
    });
    const page = browser.pages()[0] ?? await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const res = await page.goto(`${gw.baseUrl}/dashboard/`);
    expect(res?.status()).toBe(200);
    await page.locator('#empty').waitFor({ state: 'visible' });

    const callId = 'e2e-dashboard-0001';
    const start = await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}`, toStream: 'e2e_dash' }, { headers: AUTH });
    expect(start.status).toBe(200);

    // The row appears and goes live: statuses, codecs, a bitrate from the RTP byte counters.
    const row = page.locator(`tr[data-call-id="${callId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await page.waitForFunction((id) => {
      const r = document.querySelector(`tr[data-call-id="${id}"]`);
      const kbps = Number(r?.querySelector('[data-kbps]')?.getAttribute('data-kbps') ?? 0);
      return r?.querySelector('[data-field="status"]')?.textContent?.includes('ESTABLISHED')
        && r.querySelector('[data-field="rtmp"]')?.textContent === 'RTMP_STREAM_ACTIVE' && kbps > 0;
    }, callId, { timeout: 20_000 });
    expect(await cellText(page, callId, 'codecs')).toBe('H264/90000 + PCMA/8000');
    expect(Number(await row.locator('[data-kbps]').getAttribute('data-kbps'))).toBeGreaterThan(50);
    // What the page displays, per track and per output: every figure a live bitrate, none "0 kbit/s".
    const shown = await cellText(page, callId, 'bitrate');
    expect(shown).toMatch(/video [\d.]+ kbit\/s/);
    expect(shown).toMatch(/audio [\d.]+ kbit\/s/);
    const outputs = await cellText(page, callId, 'outputs');
    expect(outputs).toContain('RTMP_STREAM_ACTIVE');
    const figures = [...`${shown} ${outputs}`.matchAll(/([\d.]+) kbit\/s/g)].map((m) => Number(m[1]));
    expect(figures.length).toBeGreaterThanOrEqual(4); // total, video, audio, and at least the embedded target
    for (const f of figures) expect(f).toBeGreaterThan(0);

    // The JSON feed too, in and out, from its very first answer to this client, then polled at uneven
    // intervals (some under the tracker's 900 ms) while two event streams watch: rates on every answer,
    // while the packet counters grow.
    type ApiCall = { callId: string; kbpsIn: number; audio: { kbps: number; packets: number }; video: { kbps: number; packets: number }; rtmp: { kbps: number }[] };
    const poll = async (): Promise<ApiCall | undefined> => {
      const api = await (await fetch(`${gw.baseUrl}/dashboard/api/calls`, { headers: AUTH })).json() as { calls: ApiCall[] };
      return api.calls.find((c) => c.callId === callId);
    };
    const sse = [new AbortController(), new AbortController()];
    const firstEvents = sse.map(async (ac) => {
      const ev = await fetch(`${gw.baseUrl}/dashboard/events`, { headers: AUTH, signal: ac.signal });
      const reader = ev.body!.getReader();
      let text = '';
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
      ac.abort();
      return JSON.parse(/data: (.*)\n/.exec(text)?.[1] ?? '{}') as { calls: ApiCall[] };
    });
    let packets = 0;
    for (const gap of [0, 120, 350, 950, 80, 1300]) {
      await new Promise((r) => setTimeout(r, gap));
      const mine = await poll();
      expect(mine?.kbpsIn, `after ${gap} ms`).toBeGreaterThan(50);
      expect(mine?.audio.kbps).toBeGreaterThan(0);
      expect(mine?.video.kbps).toBeGreaterThan(0);
      expect(mine?.rtmp.length).toBeGreaterThan(0);
      for (const t of mine?.rtmp ?? []) expect(t.kbps).toBeGreaterThan(50);
      const now = (mine?.audio.packets ?? 0) + (mine?.video.packets ?? 0);
      expect(now).toBeGreaterThanOrEqual(packets);
      packets = now;
    }
    for (const snap of await Promise.all(firstEvents)) {
      const mine = snap.calls.find((c) => c.callId === callId);
      expect(mine?.kbpsIn).toBeGreaterThan(50);
      for (const t of mine?.rtmp ?? []) expect(t.kbps).toBeGreaterThan(0);
    }

    // The preview plays: HTTP-FLV from the embedded server through mpegts.js, time advancing.
    const video = row.locator('video');
    await page.waitForFunction((id) => {
      const v = document.querySelector<HTMLVideoElement>(`tr[data-call-id="${id}"] video`);
      return v !== null && v.readyState >= 2 && v.currentTime > 0.5 && v.videoWidth > 0;
    }, callId, { timeout: 20_000 });
    const t1 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
    await page.waitForTimeout(1500);
    const info = await video.evaluate((v: HTMLVideoElement) => ({ t: v.currentTime, w: v.videoWidth, h: v.videoHeight, paused: v.paused }));
    expect(info).toMatchObject({ w: 320, h: 240, paused: false });
    expect(info.t).toBeGreaterThan(t1 + 0.5);
    expect(await cellText(page, callId, 'video')).toBe('');
    expect(await row.locator('.small', { hasText: 'FLV: http://' }).count()).toBe(1);

    // Screenshots: the whole page saved for people; the preview checked as an image (decoded, not blank).
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(path.join(generatedDir, 'dashboard.png'), shot);
    const whole = pngStats(shot);
    expect(whole.width).toBeGreaterThanOrEqual(1400);
    expect(whole.height).toBeGreaterThanOrEqual(200);
    const frame = pngStats(await video.screenshot());
    expect(frame.width).toBeGreaterThanOrEqual(280);
    expect(frame.lumaStdDev).toBeGreaterThan(20); // a test pattern, not a black or grey box

    // DTMF button → /rest-api/call/send_dtmf (the browser answers the REST API's Basic challenge).
    await row.locator('[data-action="send-dtmf"]').click();
    await page.locator('#msg', { hasText: `DTMF 1234# sent to ${callId}` }).waitFor({ timeout: 5000 });

    // Terminate button → BYE, FINISH in the webhook, the row marked ended.
    await row.locator('[data-action="terminate"]').click();
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    await waitUntil(() => far?.sipMessages().some((m) => m.direction === 'received' && m.method === 'BYE'), 5000, 50, 'BYE on the wire');
    await page.locator(`tr.ended[data-call-id="${callId}"]`).waitFor({ timeout: 5000 });
    expect((await gw.rest('/call/find', { callId }, { headers: AUTH })).status).toBe(404);
    expect(pageErrors).toEqual([]);
  });
});
