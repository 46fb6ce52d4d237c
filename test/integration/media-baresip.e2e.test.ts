/**
 * baresip as the far end. SPEC §9.4: softphones hang up when no RTP comes
 * from the gateway — with `rtp_timeout 1` it keeps the call while the
 * gateway generates media (`generateMediaForUa`, the default) and hangs up
 * within seconds without it. SPEC §9.7: a conference PIN sent by `joinDtmf`
 * (with a ',' pause) and digits sent by `/call/send_dtmf` arrive as RFC 4733
 * events, in order (baresip's ctrl_tcp event stream), while the gateway also
 * sends generated audio on the same stream.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startBaresip, type BaresipFarEnd } from '../helpers/media-baresip.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

const gateways: TestGateway[] = [];
const fars: BaresipFarEnd[] = [];
let hooks: WebhookReceiver;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
});

afterAll(async () => {
  for (const g of gateways) await g.close();
  for (const f of fars) await f.close();
  await hooks.close();
  await assertNoChildProcesses();
});

async function callBaresip(generateMediaForUa: boolean, callId: string, extra: Record<string, unknown> = {}): Promise<WebhookReceiver> {
  const gw = await startTestGateway({
    rtp: { generateMediaForUa, rtpActivityTimeoutMs: 0 },
    rtmp: { embedded: { enabled: false } },
    webhook: { apps: { callApp: hooks.baseUrl } },
  });
  gateways.push(gw);
  // 1 s: baresip counts RTCP as well as RTP (stream.c rtcp_handler sets ts_last), and
  // our receiver reports come every 1.5-4.5 s, so only a timeout below 1.5 s
  // tells "RTP flows" from "only RTCP flows" every time.
  const far = await startBaresip({ rtpTimeoutS: 1 });
  fars.push(far);
  expect((await gw.rest('/call/startup', { callId, callee: far.uri, ...extra })).status).toBe(200);
  await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
  return hooks;
}

describe('baresip with an RTP timeout', () => {
  it('keeps the call while the gateway generates media, and hangs up without it', async () => {
    // baresip arms its RTP timeout only once a first packet has arrived
    // (stream.c: no packet yet → check later). One RFC 4733 digit gives the
    // gen-off far end that first packet at once; without generated media only
    // RTCP follows, more than 1 s apart.
    const arm = { joinDtmf: { digits: '1', delayMs: 200, type: 'RFC2833' } };
    const [on, off] = await Promise.all([callBaresip(true, 'baresip-gen-on', arm), callBaresip(false, 'baresip-gen-off', arm)]);
    const ended = await off.waitFor((e) => e.body?.callId === 'baresip-gen-off' && e.body.status === 'FINISH', 15_000);
    expect(ended.body.info).toBe('NORMAL_CALL_CLEARING');
    await new Promise((r) => setTimeout(r, 3000));
    // Well past baresip's 1 s timeout, the call with generated media is still up.
    expect(on.events.filter((e) => e.body?.callId === 'baresip-gen-on').map((e) => e.body.status)).not.toContain('FINISH');
    const gwOn = gateways.find((g) => g.gw.calls.registry.all().some((c) => c.callId === 'baresip-gen-on'));
    expect((await gwOn!.rest('/call/find', { callId: 'baresip-gen-on' })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
  });

  it('joinDtmf and send_dtmf digits arrive at baresip as RFC 4733 events, in order', async () => {
    await callBaresip(true, 'baresip-dtmf-1', { joinDtmf: { digits: '12,3#', delayMs: 500, type: 'RFC2833' } });
    const far = fars.at(-1)!;
    const gw = gateways.at(-1)!;
    const digits = (): string => far.events.filter((e) => e.type === 'CALL_DTMF_START').map((e) => e.param).join('');
    await waitUntil(() => digits() === '123#', 10_000, 50, 'the PIN at baresip');
    expect((await gw.rest('/call/send_dtmf', { callId: 'baresip-dtmf-1', dtmf: '*9', type: 'RFC2833' })).status).toBe(200);
    await waitUntil(() => digits() === '123#*9', 10_000, 50, 'the digits at baresip');
    await waitUntil(() => far.events.filter((e) => e.type === 'CALL_DTMF_END').length === 6, 5000, 50, 'every digit ended');
  });
});
