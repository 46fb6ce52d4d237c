/**
 * The partial-message deadline of the SIP stream transport (RFC 3261 §18.3
 * framing over TCP): it runs from the first byte of a message, so a peer that
 * trickles a header one byte at a time is cut off, while a peer pipelining
 * complete messages across chunk boundaries is not.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { pino } from 'pino';
import { StreamTransport } from '../../../src/sip/stream-transport.js';
import { getCallId, type SipMessage } from '../../../src/sip/message.js';

const opened: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function listen(partialTimeoutMs: number): Promise<{ st: StreamTransport; port: number; got: SipMessage[] }> {
  const st = await StreamTransport.open({ protocol: 'TCP', host: '127.0.0.1', port: 0, log: pino({ level: 'silent' }), partialTimeoutMs });
  opened.push(st);
  const got: SipMessage[] = [];
  st.on('message', (m) => got.push(m));
  return { st, port: st.boundAddress.port, got };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
    opened.push({ close: () => { s.destroy(); } });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function options(n: number): string {
  return [
    'OPTIONS sip:gw@127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-dl-${n}`,
    'From: <sip:t@127.0.0.1>;tag=a',
    'To: <sip:gw@127.0.0.1>',
    `Call-ID: deadline-${n}`,
    `CSeq: ${n} OPTIONS`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

describe('StreamTransport partial-message deadline', () => {
  it('closes a connection trickling an endless header, however often a byte arrives', async () => {
    const { port, got } = await listen(300);
    const sock = await connect(port);
    let closed = false;
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    sock.write('OPTIONS sip:gw@127.0.0.1 SIP/2.0\r\nX-Endless: ');
    // One byte every 40 ms, at most 150 of them (6 s): far more often than the 300 ms deadline.
    let sent = 0;
    while (!closed && sent < 150) {
      await sleep(40);
      if (!closed) sock.write('a');
      sent++;
    }
    expect(closed).toBe(true);
    expect(sent).toBeLessThan(150);
    expect(got).toEqual([]);
  });

  it('keeps a connection that pipelines complete messages split across chunks', async () => {
    const { st, port, got } = await listen(300);
    const sock = await connect(port);
    let closed = false;
    sock.on('close', () => (closed = true));
    // Eight messages; every chunk ends a message and starts the next one, 100 ms apart (800 ms in all).
    const stream = Array.from({ length: 8 }, (_, i) => options(i + 1)).join('');
    const cuts = Array.from({ length: 8 }, (_, i) => Math.floor(((i + 0.5) * stream.length) / 8));
    let from = 0;
    for (const cut of [...cuts, stream.length]) {
      sock.write(stream.slice(from, cut));
      from = cut;
      await sleep(100);
    }
    await sleep(100);
    expect(closed).toBe(false);
    expect(got.map((m) => getCallId(m))).toEqual(Array.from({ length: 8 }, (_, i) => `deadline-${i + 1}`));
    expect(st.connectionCount).toBe(1);
  });
});
