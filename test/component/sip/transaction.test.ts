import { afterEach, describe, it, expect } from 'vitest';
import { silentLogger } from '../../../src/shared/logger.js';
import { createResponse, getCSeq, getHeader, getTo, getTopVia, parseMessage, tagOf, type SipRequest } from '../../../src/sip/message.js';
import { TransactionLayer } from '../../../src/sip/transaction-layer.js';
import type { ServerTransaction } from '../../../src/sip/server-transaction.js';
import { UdpTransport } from '../../../src/sip/transport.js';
import { FarEnd } from '../../helpers/sip-far-end.js';

const T = { t1: 20, t2: 80, t4: 100 };
const log = silentLogger();
const opened: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function setup(): Promise<{ far: FarEnd; transport: UdpTransport; layer: TransactionLayer }> {
  const far = await FarEnd.open();
  const transport = await UdpTransport.open({ host: '127.0.0.1', port: 0, log });
  const layer = new TransactionLayer(transport, T, log);
  opened.push(far, transport, layer);
  return { far, transport, layer };
}

let n = 0;
function request(method: string, port: number): SipRequest {
  n++;
  const text = `${method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};rport;branch=z9hG4bKtest${n}x${Date.now()}\r\n`
    + `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a${n}\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: call${n}\r\nCSeq: ${n} ${method}\r\nContent-Length: 0\r\n\r\n`;
  return parseMessage(Buffer.from(text)) as SipRequest;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - (times[i] ?? 0));

describe('INVITE client transaction (RFC 3261 §17.1.1)', () => {
  it('retransmits with Timer A doubling from T1 and times out with Timer B = 64*T1', async () => {
    const { far, transport, layer } = await setup();
    const start = Date.now();
    const tx = layer.sendInvite(request('INVITE', transport.boundAddress.port), far.address);
    await new Promise<void>((resolve) => tx.on('timeout', resolve));
    const elapsed = Date.now() - start;
    await sleep(30);
    const invites = far.received.filter((r) => r.msg.type === 'request');
    // sends at 0, 20, 60, 140, 300, 620, 1260 ms; Timer B at 1280 ms
    expect(invites.length).toBeGreaterThanOrEqual(6);
    expect(invites.length).toBeLessThanOrEqual(7);
    const g = gaps(invites.map((r) => r.at));
    for (let i = 1; i < g.length; i++) expect(g[i] ?? 0).toBeGreaterThan((g[i - 1] ?? 0) * 1.4);
    expect(elapsed).toBeGreaterThanOrEqual(64 * T.t1 - 5);
    expect(elapsed).toBeLessThan(64 * T.t1 + 400);
    expect(tx.state).toBe('terminated');
    expect(layer.size).toBe(0);
  });

  it('stops retransmitting on 1xx, ACKs a non-2xx final with the same branch, re-ACKs retransmissions', async () => {
    const { far, transport, layer } = await setup();
    const req = request('INVITE', transport.boundAddress.port);
    const tx = layer.sendInvite(req, far.address);
    const statuses: number[] = [];
    tx.on('response', (r) => statuses.push(r.status));
    const invite = await far.nextRequest('INVITE');
    const to = invite.from;
    await far.send(createResponse(invite, 100, 'Trying'), to);
    await sleep(100);
    expect(far.received.filter((r) => r.msg.type === 'request' && r.msg.method === 'INVITE')).toHaveLength(1);
    const busy = createResponse(invite, 486, 'Busy Here', { toTag: 'far1' });
    await far.send(busy, to);
    const ack = await far.nextRequest('ACK');
    expect(getTopVia(ack).params.get('branch')).toBe(getTopVia(req).params.get('branch'));
    expect(getCSeq(ack)).toEqual({ seq: getCSeq(req).seq, method: 'ACK' });
    expect(tagOf(getTo(ack))).toBe('far1');
    expect(ack.uri).toBe(req.uri);
    await far.send(busy, to);
    await far.nextRequest('ACK');
    expect(statuses).toEqual([100, 486]);
    expect(tx.state).toBe('completed');
    await sleep(64 * T.t1 + 50); // Timer D
    expect(tx.state).toBe('terminated');
  });

  it('passes 2xx and its retransmissions to the TU (RFC 6026 Accepted) without ACKing', async () => {
    const { far, transport, layer } = await setup();
    const tx = layer.sendInvite(request('INVITE', transport.boundAddress.port), far.address);
    const statuses: number[] = [];
    tx.on('response', (r) => statuses.push(r.status));
    const invite = await far.nextRequest('INVITE');
    const ok = createResponse(invite, 200, 'OK', { toTag: 'x' });
    await far.send(ok, invite.from);
    await far.send(ok, invite.from);
    await sleep(80);
    expect(statuses).toEqual([200, 200]);
    expect(tx.state).toBe('accepted');
    expect(far.received.some((r) => r.msg.type === 'request' && r.msg.method === 'ACK')).toBe(false);
  });
});

describe('non-INVITE client transaction (RFC 3261 §17.1.2)', () => {
  it('retransmits with Timer E capped at T2 and times out with Timer F', async () => {
    const { far, transport, layer } = await setup();
    const tx = layer.sendNonInvite(request('BYE', transport.boundAddress.port), far.address);
    let timedOut = false;
    tx.on('timeout', () => {
      timedOut = true;
    });
    await sleep(64 * T.t1 + 100);
    expect(timedOut).toBe(true);
    const times = far.received.map((r) => r.at);
    // 0, 20, 60, 140, then every 80 ms up to 1280: about 18 sends
    expect(times.length).toBeGreaterThanOrEqual(14);
    expect(times.length).toBeLessThanOrEqual(19);
    for (const g of gaps(times).slice(3)) expect(g).toBeLessThan(T.t2 * 1.6);
  });

  it('keeps retransmitting at T2 in Proceeding and stops on the final response', async () => {
    const { far, transport, layer } = await setup();
    const tx = layer.sendNonInvite(request('INFO', transport.boundAddress.port), far.address);
    const info = await far.nextRequest('INFO');
    await far.send(createResponse(info, 100, 'Trying'), info.from);
    await sleep(200);
    expect(tx.state).toBe('proceeding');
    const before = far.received.length;
    expect(before).toBeGreaterThan(1);
    const final = new Promise<number>((resolve) => tx.on('response', (r) => r.status >= 200 && resolve(r.status)));
    await far.send(createResponse(info, 200, 'OK', { toTag: 't' }), info.from);
    expect(await final).toBe(200);
    await sleep(150);
    expect(far.received.length).toBeLessThanOrEqual(before + 1);
    expect(tx.state).toBe('terminated'); // Timer K = T4
  });

  it('reports a transport error', async () => {
    const { transport, layer } = await setup();
    const tx = layer.sendNonInvite(request('OPTIONS', transport.boundAddress.port), { host: '127.0.0.1', port: 0 });
    const err = await new Promise<Error>((resolve) => tx.on('transportError', resolve));
    expect(err).toBeInstanceOf(Error);
    expect(tx.state).toBe('terminated');
  });
});

describe('server transactions (RFC 3261 §17.2)', () => {
  it('answers a retransmitted non-INVITE request with the last response, once to the TU', async () => {
    const { far, transport, layer } = await setup();
    const seen: string[] = [];
    layer.on('request', (req, stx) => {
      seen.push(req.method);
      stx?.respond(createResponse(req, 200, 'OK', { toTag: 'ua' }));
    });
    const bye = request('BYE', far.port);
    await far.send(bye, transport.boundAddress);
    await far.nextResponse(200);
    await far.send(bye, transport.boundAddress);
    const again = await far.nextResponse(200);
    expect(tagOf(getTo(again))).toBe('ua');
    expect(seen).toEqual(['BYE']);
    // rport/received were stamped on the request, so the response came back to our port
    expect(getHeader(again, 'Via')).toContain(`rport=${far.port}`);
  });

  it('retransmits a non-2xx final to INVITE with Timer G until the ACK', async () => {
    const { far, transport, layer } = await setup();
    let stx: ServerTransaction | undefined;
    let ackSeenByTu = false;
    layer.on('request', (req, tx) => {
      if (req.method === 'ACK') ackSeenByTu = true;
      else {
        stx = tx;
        tx?.respond(createResponse(req, 488, 'Not Acceptable Here', { toTag: 'ua' }));
      }
    });
    const invite = request('INVITE', far.port);
    await far.send(invite, transport.boundAddress);
    await far.nextResponse(488);
    await far.nextResponse(488); // Timer G retransmission
    const ack = request('ACK', far.port);
    ack.headers = invite.headers.map((h) => (h.name === 'CSeq' ? { name: 'CSeq', value: `${getCSeq(invite).seq} ACK` } : h));
    await far.send(ack, transport.boundAddress);
    await sleep(60);
    expect(stx?.state).toBe('confirmed');
    const count = far.received.length;
    await sleep(150);
    expect(far.received.length).toBe(count);
    expect(ackSeenByTu).toBe(false);
    expect(stx?.state).toBe('terminated'); // Timer I = T4
  });
});
