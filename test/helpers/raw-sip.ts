/**
 * A bare UDP SIP caller for what SIPp cannot do as a UAC (a SHA-256 digest,
 * hand-made malformed requests): one dialog, one request at a time, no
 * retransmission (loopback only).
 */
import dgram from 'node:dgram';
import { waitUntil } from './wait.js';

/** A SIP UAC on a UDP socket of 127.0.0.1 talking to 127.0.0.1:`port`. */
export class RawSipUac {
  readonly callId = `raw-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  readonly tag = Math.random().toString(36).slice(2, 10);
  readonly uri: string;
  private readonly inbox: Array<{ status: number; text: string }> = [];
  private branchN = 0;
  private lastInviteBranch = '';

  private constructor(private readonly sock: dgram.Socket, private readonly port: number) {
    this.uri = `sip:service@127.0.0.1:${port}`;
    sock.on('message', (m) => {
      const text = m.toString('utf8');
      const st = /^SIP\/2\.0 (\d{3})/.exec(text);
      if (st) this.inbox.push({ status: Number(st[1]), text });
    });
  }

  /** Binds a UDP socket on 127.0.0.1 to call 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawSipUac> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return new RawSipUac(sock, port);
  }

  private send(lines: string[], body = ''): void {
    const msg = [...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
    this.sock.send(msg, this.port, '127.0.0.1');
  }

  private headers(method: string, cseq: number, branch: string, toTag?: string): string[] {
    const local = `127.0.0.1:${this.sock.address().port}`;
    return [
      `${method} ${this.uri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=${branch}`,
      `From: <sip:bob@127.0.0.1>;tag=${this.tag}`,
      `To: <${this.uri}>${toTag ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} ${method}`,
      `Contact: <sip:bob@${local}>`,
      'Max-Forwards: 70',
    ];
  }

  private static toTag(res: { text: string }): string | undefined {
    return /^To:.*;tag=([^;\s]+)/im.exec(res.text)?.[1];
  }

  /** Sends a request and resolves with its final response (no retransmission: loopback). */
  async request(
    method: string, cseq: number, extra: string[], sdp?: string, dialog?: { text: string },
  ): Promise<{ status: number; text: string }> {
    const branch = `z9hG4bK-raw-${++this.branchN}`;
    if (method === 'INVITE') this.lastInviteBranch = branch;
    const lines = this.headers(method, cseq, branch, dialog ? RawSipUac.toTag(dialog) : undefined);
    lines.push(...extra);
    if (sdp) lines.push('Content-Type: application/sdp');
    this.send(lines, sdp);
    const cseqRe = new RegExp(`^CSeq:\\s*${cseq} ${method}`, 'im');
    const res = await waitUntil(
      () => this.inbox.find((r) => r.status >= 200 && cseqRe.test(r.text)),
      5000, 10, `no final response to ${method}`,
    );
    this.inbox.length = 0;
    return res;
  }

  /** ACK: same branch as the INVITE for a non-2xx (RFC 3261 17.1.1.3), a new one for a 2xx (13.2.2.4). */
  ack(res: { status: number; text: string }, cseq: number): void {
    const branch = res.status >= 300 ? this.lastInviteBranch : `z9hG4bK-raw-${++this.branchN}`;
    this.send(this.headers('ACK', cseq, branch, RawSipUac.toTag(res)));
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}
