/**
 * SPEC §9.4: softphones hang up when no RTP comes from the gateway. baresip
 * with `rtp_timeout 3` keeps the call while the gateway generates media
 * (`generateMediaForUa`, the default) and hangs up within seconds without it.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startBaresip, type BaresipFarEnd } from '../helpers/media-baresip.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { assertNoChildProcesses } from '../helpers/processes.js';

const gateways: TestGateway[] = [];
const fars: BaresipFarEnd[] = [];
let hooks: WebhookReceiver | undefined;

afterAll(async () => {
  for (const g of gateways) await g.close();
  for (const f of fars) await f.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

async function callBaresip(generateMediaForUa: boolean, callId: string): Promise<WebhookReceiver> {
  hooks ??= await startWebhookReceiver();
  const gw = await startTestGateway({
    rtp: { generateMediaForUa, rtpActivityTimeoutMs: 0 },
    rtmp: { embedded: { enabled: false } },
    webhook: { apps: { callApp: hooks.baseUrl } },
  });
  gateways.push(gw);
  const far = await startBaresip({ rtpTimeoutS: 3 });
  fars.push(far);
  expect((await gw.rest('/call/startup', { callId, callee: far.uri })).status).toBe(200);
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
  return hooks;
}

describe('baresip with an RTP timeout', () => {
  it('keeps the call while the gateway generates media, and hangs up without it', async () => {
    const [on, off] = await Promise.all([callBaresip(true, 'baresip-gen-on'), callBaresip(false, 'baresip-gen-off')]);
    const ended = await off.waitFor((e) => e.body?.callId === 'baresip-gen-off' && e.body.status === 'FINISH', 15_000);
    expect(ended.body.info).toBe('NORMAL_CALL_CLEARING');
    await new Promise((r) => setTimeout(r, 3000));
    // Well past baresip's 3 s timeout, the call with generated media is still up.
    expect(on.events.filter((e) => e.body?.callId === 'baresip-gen-on').map((e) => e.body.status)).not.toContain('FINISH');
    const gwOn = gateways.find((g) => g.gw.calls.registry.all().some((c) => c.callId === 'baresip-gen-on'));
    expect((await gwOn!.rest('/call/find', { callId: 'baresip-gen-on' })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
  });
});
