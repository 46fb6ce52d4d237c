/**
 * A light far end for scale runs: one process answers every INVITE sent to
 * its SIP port (UDP) and replays the bench's media to each call — the H.264
 * RTP of `h264.pcap` at its own pace and G.711 A-law from `pcma.al` in 20 ms
 * packets — so hundreds of calls cost one process instead of one SIPp each.
 * All calls share one clock (a call joins the stream where it is, as a
 * conference's participant would; the gateway asks for a keyframe), one
 * audio and one video socket (the answer names them; what the gateway sends
 * there is read and dropped). BYE ends a call; re-INVITE, UPDATE and OPTIONS
 * get 200 OK. Stops on SIGTERM; prints "ready <sipPort>" when listening.
 *
 *   npx tsx bench/light-far-end.ts --sip-port 5090 --media <dir with h264.pcap and pcma.al>
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readPcap } from '../test/helpers/pcap.js';
import {
  bodyText, createResponse, getCallId, getHeader, parseMessage, serializeMessage, type SipRequest,
} from '../src/sip/index.js';

const { values: argv } = parseArgs({ options: { 'sip-port': { type: 'string' }, media: { type: 'string' } } });
const sipPort = Number(argv['sip-port']);
const mediaDir = argv.media ?? '';
if (!(sipPort > 0) || !mediaDir) throw new Error('usage: --sip-port <port> --media <dir>');

/** The video packets with their send time (ms from the first). */
const video = readPcap(readFileSync(path.join(mediaDir, 'h264.pcap'))).map((p, i, all) => ({
  atMs: (p.timeUs - all[0]!.timeUs) / 1000, payload: Buffer.from(p.payload),
}));
const alaw = readFileSync(path.join(mediaDir, 'pcma.al'));

interface FarCall {
  host: string;
  audio?: { port: number; pt: number };
  video?: { port: number; pt: number };
}
const calls = new Map<string, FarCall>();
const answered = new Map<string, Buffer>();

/** Where the offer wants PCMA and H.264 (the payload types it chose). */
function fromOffer(sdp: string): FarCall {
  const host = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1] ?? '127.0.0.1';
  const call: FarCall = { host };
  for (const section of sdp.split(/\r?\n(?=m=)/).slice(1)) {
    const m = /^m=(audio|video) (\d+) \S+ ([\d ]+)/.exec(section);
    if (!m) continue;
    const want = m[1] === 'audio' ? /^a=rtpmap:(\d+) PCMA\/8000/im : /^a=rtpmap:(\d+) H264\/90000/im;
    const pt = want.exec(section)?.[1] ?? (m[1] === 'audio' && m[3]!.split(' ').includes('8') ? '8' : undefined);
    if (pt !== undefined && Number(m[2]) > 0) call[m[1] as 'audio' | 'video'] = { port: Number(m[2]), pt: Number(pt) };
  }
  return call;
}

const sip = dgram.createSocket('udp4');
const audioSock = dgram.createSocket('udp4');
const videoSock = dgram.createSocket('udp4');
for (const s of [audioSock, videoSock]) s.on('message', () => undefined);

function answerSdp(call: FarCall): string {
  const lines = ['v=0', 'o=light 1 1 IN IP4 127.0.0.1', 's=light far end', 'c=IN IP4 127.0.0.1', 't=0 0'];
  if (call.audio) lines.push(`m=audio ${audioSock.address().port} RTP/AVP ${call.audio.pt}`, `a=rtpmap:${call.audio.pt} PCMA/8000`, 'a=sendrecv');
  if (call.video) {
    lines.push(`m=video ${videoSock.address().port} RTP/AVP ${call.video.pt}`, `a=rtpmap:${call.video.pt} H264/90000`,
      `a=fmtp:${call.video.pt} profile-level-id=42e01f;packetization-mode=1`, 'a=sendrecv');
  }
  return `${lines.join('\r\n')}\r\n`;
}

function onRequest(req: SipRequest, rinfo: dgram.RemoteInfo): void {
  const id = getCallId(req) ?? '';
  const reply = (b: Buffer): void => sip.send(b, rinfo.port, rinfo.address);
  if (req.method === 'ACK') return;
  if (req.method === 'INVITE' && !calls.has(id)) {
    const prior = answered.get(id);
    if (prior) return reply(prior); // a retransmission of the INVITE answered already
    const call = fromOffer(bodyText(req));
    const res = createResponse(req, 200, 'OK', {
      toTag: `light${answered.size}`, body: answerSdp(call), contentType: 'application/sdp',
      headers: [{ name: 'Contact', value: `<sip:light@127.0.0.1:${sipPort}>` }],
    });
    const bytes = serializeMessage(res);
    answered.set(id, bytes);
    calls.set(id, call);
    return reply(bytes);
  }
  if (req.method === 'BYE' || req.method === 'CANCEL') {
    calls.delete(id);
    answered.delete(id);
  }
  const sdp = req.method === 'INVITE' && calls.has(id) ? { body: answerSdp(calls.get(id)!), contentType: 'application/sdp' } : {};
  const toTag = /;tag=([^;>\s]+)/.exec(getHeader(req, 'To') ?? '')?.[1];
  reply(serializeMessage(createResponse(req, 200, 'OK', { ...(toTag ? { toTag } : {}), ...sdp })));
}

sip.on('message', (msg, rinfo) => {
  try {
    const m = parseMessage(msg);
    if (m.type === 'request') onRequest(m, rinfo);
  } catch (e) {
    process.stderr.write(`light far end: ${(e as Error).message}\n`);
  }
});

// One clock for every call: video at the pcap's pace (looping with seq/timestamp carried on), audio every 20 ms.
const t0 = performance.now();
const clipMs = (video.at(-1)?.atMs ?? 0) + 40;
let vi = 0;
let loop = 0;
let audioSeq = 0;
let audioTs = 0;
let audioDue = 0;
const audioPkt = Buffer.alloc(12 + 160);
audioPkt[0] = 0x80;
audioPkt.writeUInt32BE(0x1a2b3c4d, 8);
const videoSeq0 = video[0]?.payload.readUInt16BE(2) ?? 0;
const videoTsSpan = Math.round((clipMs * 90000) / 1000);

function sendTo(sock: dgram.Socket, pkt: Buffer, kind: 'audio' | 'video'): void {
  for (const c of calls.values()) {
    const dest = c[kind];
    if (!dest) continue;
    pkt[1] = (pkt[1]! & 0x80) | dest.pt;
    sock.send(pkt, dest.port, c.host);
  }
}

function tick(): void {
  const now = performance.now() - t0;
  while (audioDue <= now) {
    const off = (audioSeq * 160) % Math.max(160, alaw.length - 160);
    alaw.copy(audioPkt, 12, off, off + 160);
    audioPkt.writeUInt16BE(audioSeq & 0xffff, 2);
    audioPkt.writeUInt32BE(audioTs >>> 0, 4);
    sendTo(audioSock, audioPkt, 'audio');
    audioSeq++;
    audioTs += 160;
    audioDue += 20;
  }
  while (video.length > 0 && loop * clipMs + video[vi]!.atMs <= now) {
    const src = video[vi]!.payload;
    const pkt = Buffer.from(src);
    pkt.writeUInt16BE((videoSeq0 + loop * video.length + vi) & 0xffff, 2);
    pkt.writeUInt32BE((src.readUInt32BE(4) + loop * videoTsSpan) >>> 0, 4);
    sendTo(videoSock, pkt, 'video');
    if (++vi === video.length) {
      vi = 0;
      loop++;
    }
  }
}

await Promise.all([
  new Promise<void>((r) => sip.bind(sipPort, '127.0.0.1', () => r())),
  new Promise<void>((r) => audioSock.bind(0, '127.0.0.1', () => r())),
  new Promise<void>((r) => videoSock.bind(0, '127.0.0.1', () => r())),
]);
const timer = setInterval(tick, 5);
process.stdout.write(`ready ${sipPort}\n`);
process.once('SIGTERM', () => {
  clearInterval(timer);
  for (const s of [sip, audioSock, videoSock]) s.close();
});
