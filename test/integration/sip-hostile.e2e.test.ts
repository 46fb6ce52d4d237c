/**
 * Hostile input at the gateway's live SIP ports while a call is up (SIPp far
 * end): mutated copies of real SIP messages, garbage datagrams, an oversized
 * datagram, a wrong Content-Length (answered 400), a forged in-dialog BYE
 * (answered 481), and on TCP a half-open connection holding half a message
 * plus an unframeable stream. The call must carry on and hang up normally.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import fc from 'fast-check';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startSippUas, type SippProcess } from '../helpers/sipp.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook.js';
import { freeUdpPort, freeUdpPortRange } from '../helpers/ports.js';
import { assertNoChildProcesses } from '../helpers/processes.js';
import { waitUntil } from '../helpers/wait.js';

let gw: TestGateway;
let hooks: WebhookReceiver;
let far: SippProcess;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  far = await startSippUas({ scenario: 'uas-answer.xml', sipPort: await freeUdpPort(), mediaPort: await freeUdpPortRange(4) });
  gw = await startTestGateway({ webhook: { apps: { callApp: hooks.baseUrl } } });
});

afterAll(async () => {
  await far?.close();
  await gw?.close();
  await hooks?.close();
  await assertNoChildProcesses();
});

/** Byte-level mutations of a real message: flips, truncations, splices, duplicated ranges. */
const mutation = (base: Buffer): fc.Arbitrary<Buffer> => fc.oneof(
  fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 20 }).map((flips) => {
    const b = Buffer.from(base);
    for (const [i, v] of flips) b[i] = v;
    return b;
  }),
  fc.nat(base.length).map((n) => base.subarray(0, n)),
  fc.tuple(fc.nat(base.length), fc.uint8Array({ maxLength: 200 })).map(([at, junk]) => Buffer.concat([base.subarray(0, at), Buffer.from(junk), base.subarray(at)])),
  fc.tuple(fc.nat(base.length), fc.nat(base.length)).map(([a, b]) => Buffer.concat([base, base.subarray(Math.min(a, b), Math.max(a, b))])),
);

describe('hostile input during a call', () => {
  it('mutated, garbage, oversized and lying messages on UDP and TCP leave the call untouched', async () => {
    const callId = 'sip-hostile-0001';
    await gw.rest('/call/startup', { callId, callee: `sip:service@127.0.0.1:${far.sipPort}` });
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'ESTABLISHED', 10_000);
    const port = gw.gw.sipPort;
    // Real messages of this very call, from SIPp's trace: our INVITE and its 200.
    const msgs = far.sipMessages();
    const invite = Buffer.from(`${msgs.find((m) => m.method === 'INVITE' && m.status === null)?.text ?? ''}\r\n`.replace(/\r?\n/g, '\r\n'));
    const ok = Buffer.from(`${msgs.find((m) => m.status === 200)?.text ?? ''}\r\n`.replace(/\r?\n/g, '\r\n'));
    expect(invite.length).toBeGreaterThan(500);

    const sock = dgram.createSocket('udp4');
    const replies: string[] = [];
    sock.on('message', (m) => replies.push(m.toString('latin1')));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const send = (b: Buffer): Promise<void> => new Promise((r) => sock.send(b, port, '127.0.0.1', () => r()));
    try {
      for (const base of [invite, ok]) {
        for (const b of fc.sample(mutation(base), { numRuns: 150, seed: 42 })) await send(b);
      }
      for (const b of fc.sample(fc.uint8Array({ minLength: 1, maxLength: 1500 }), { numRuns: 100, seed: 7 })) await send(Buffer.from(b));
      await send(Buffer.alloc(60_000, 0x41)); // oversized garbage
      // Let the socket drain: a flood this size overruns a UDP receive buffer, and these two must arrive.
      await new Promise((r) => setTimeout(r, 1000));
      // A request whose Content-Length claims more than arrived: 400 (RFC 3261 §18.3).
      const lie = `OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bKlie1\r\n`
        + `From: <sip:x@127.0.0.1>;tag=l1\r\nTo: <sip:gw@127.0.0.1>\r\nCall-ID: lie-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 5000\r\n\r\nshort`;
      await send(Buffer.from(lie));
      // A forged BYE with this call's Call-ID but wrong tags: 481, the call stays.
      const forged = `BYE sip:gw@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=z9hG4bKforged1\r\n`
        + `From: <sip:x@127.0.0.1>;tag=evil\r\nTo: <sip:gw@127.0.0.1>;tag=nottours\r\nCall-ID: ${callId}\r\nCSeq: 99 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
      await send(Buffer.from(forged));
      await waitUntil(() => replies.some((r) => /^SIP\/2\.0 400 /.test(r) && /Call-ID: lie-1/i.test(r)), 3000, 20, 'the 400');
      await waitUntil(() => replies.some((r) => /^SIP\/2\.0 481 /.test(r) && /CSeq: 99 BYE/i.test(r)), 3000, 20, 'the 481');
    } finally {
      await new Promise<void>((r) => sock.close(() => r()));
    }

    // TCP: a half-open connection with half a message, and an unframeable stream.
    const half = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => half.once('connect', () => r()));
    half.write(invite.subarray(0, 300));
    const junk = net.connect(port, '127.0.0.1');
    junk.on('error', () => undefined);
    await new Promise<void>((r) => junk.once('connect', () => r()));
    junk.write(`INVITE sip:x SIP/2.0\r\nContent-Length: -7\r\nVia: nonsense\r\n\r\n${'\u0000'.repeat(100)}`);
    const junkClosed = new Promise<void>((r) => junk.once('close', () => r()));
    await junkClosed;
    half.destroy();

    await new Promise((r) => setTimeout(r, 500));
    const last = hooks.events.filter((e) => e.body?.callId === callId).at(-1);
    expect(last?.body.status).toBe('ESTABLISHED');
    expect((await gw.rest('/call/find', { callId })).body[0]).toMatchObject({ status: 'ESTABLISHED' });
    // And it still hangs up properly: BYE reaches SIPp, which exits cleanly.
    expect((await gw.rest('/call/terminate', { callId })).status).toBe(200);
    await hooks.waitFor((e) => e.body?.callId === callId && e.body.status === 'FINISH', 10_000);
    expect(await far.exited, far.errors()).toBe(0);
    expect(gw.logs().some((l) => /unparseable SIP/.test(l.msg ?? ''))).toBe(true);
  });
});
