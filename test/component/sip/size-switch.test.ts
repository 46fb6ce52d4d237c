/**
 * RFC 3261 §18.1.1 size switch: a UDP INVITE over 1300 bytes tries TCP with
 * a short connect timeout, falls back to UDP when the far end has no TCP,
 * and remembers that destination so the next call does not try again.
 */
import { afterEach, describe, it, expect } from 'vitest';
import { Writable } from 'node:stream';
import net from 'node:net';
import { pino } from 'pino';
import { createResponse, getTopVia } from '../../../src/sip/message.js';
import { SipUserAgent, type SipClientCall } from '../../../src/sip/index.js';
import { FarEnd } from '../../helpers/sip-far-end.js';

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

function capturingLog(): { log: pino.Logger; lines: () => string[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(JSON.parse(chunk.toString()).msg as string);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines: () => out };
}

const BIG_SDP = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n${Array.from({ length: 14 }, (_, i) => `a=x-pad${i}:${'p'.repeat(80)}\r\n`).join('')}t=0 0\r\nm=audio 30000 RTP/AVP 8\r\n`;

function until(call: SipClientCall, ev: 'established' | 'failed'): Promise<void> {
  return new Promise((resolve) => call.once(ev, () => resolve()));
}

describe('INVITE above 1300 bytes (RFC 3261 §18.1.1)', () => {
  it('a far end without TCP gets the INVITE over UDP at once, and is remembered for the next call', async () => {
    const far = await FarEnd.open(); // UDP only: a TCP connect to its port is reset
    const { log, lines } = capturingLog();
    const ua = await SipUserAgent.start({ host: '127.0.0.1', port: 0, publicAddress: null, userAgent: 'T', log, timers: { t1Ms: 50 } });
    opened.push(far, ua);
    for (const n of [1, 2]) {
      const call = ua.invite({
        callId: `big-${n}-${Date.now()}`, requestUri: `sip:a@127.0.0.1:${far.port}`, from: { user: 'gw', host: 'x' },
        destination: far.address, sdpOffer: BIG_SDP, ringTimeoutMs: 5000, log,
      });
      const t0 = Date.now();
      call.start();
      const invite = await far.nextRequest('INVITE');
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(getTopVia(invite).transport).toBe('UDP');
      const est = until(call, 'established');
      await far.send(createResponse(invite, 200, 'OK', {
        toTag: `t${n}`, headers: [{ name: 'Contact', value: `<sip:b@127.0.0.1:${far.port}>` }], body: BIG_SDP.slice(0, 80), contentType: 'application/sdp',
      }), invite.from);
      await est;
      expect(call.ctx.protocol).toBe('UDP');
      const done = call.hangup();
      const bye = await far.nextRequest('BYE');
      await far.send(createResponse(bye, 200, 'OK'), bye.from);
      await done;
    }
    const l = lines();
    expect(l.filter((m) => /falling back to UDP/.test(m))).toHaveLength(1);
    expect(l.filter((m) => /known to refuse TCP/.test(m))).toHaveLength(1);
  });

  it('the TCP attempt reuses or opens a connection, and a silent connect gives up after its timeout', async () => {
    const ua = await SipUserAgent.start({ host: '127.0.0.1', port: 0, publicAddress: null, userAgent: 'T', log: pino({ level: 'silent' }) });
    opened.push(ua);
    // StreamTransport.preconnect is what the switch waits on: bounded by its timeout.
    const tcp = await import('../../../src/sip/stream-transport.js');
    const server = net.createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    opened.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
    const st = await tcp.StreamTransport.open({ protocol: 'TCP', host: '127.0.0.1', port: 0, log: pino({ level: 'silent' }) });
    opened.push(st);
    await st.preconnect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, 500);
    expect(st.connectionCount).toBe(1);
    // 192.0.2.0/24 (TEST-NET-1) is never routed: the connect is silent or unreachable, never slow.
    const t0 = Date.now();
    await expect(st.preconnect({ host: '192.0.2.1', port: 5060 }, 300)).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});
