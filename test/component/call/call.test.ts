/**
 * Call, the orchestration class, with a fake SIP user agent (no far end):
 * which SIP event leads to which status, in what order, when our BYE/CANCEL
 * goes out, and that every way of ending releases the call's RTP ports once.
 * Real RTP sockets on 127.0.0.1; G.711 copied as is, so no process runs.
 */
import { describe, it, expect, afterEach } from 'vitest';
import dgram from 'node:dgram';
import { Call } from '../../../src/call/call.js';
import type { CallDeps } from '../../../src/call/call-deps.js';
import type { CallObject, StartupParams } from '../../../src/call/types.js';
import { PortAllocator } from '../../../src/rtp/port-allocator.js';
import { TypedEmitter } from '../../../src/shared/index.js';
import { silentLogger } from '../../../src/shared/logger.js';
import type { InviteOptions, SipClientCall, SipClientCallEvents, SipUserAgent } from '../../../src/sip/index.js';
import { freeTcpPort, freeUdpPortRange } from '../../helpers/ports.js';

/** Stands in for SipClientCall: records what the call asks of it; the test emits its events. */
class FakeSipCall extends TypedEmitter<SipClientCallEvents> {
  answerSdp: (offer: string | undefined) => string = () => '';
  started = false;
  hangups = 0;
  readonly infos: [string, string][] = [];
  hangupDone: Promise<void> = Promise.resolve();
  constructor(readonly opts: InviteOptions) {
    super();
  }
  start(): void {
    this.started = true;
  }
  hangup(): Promise<void> {
    this.hangups++;
    return this.hangupDone;
  }
  sendInfo(contentType: string, body: string): Promise<number> {
    this.infos.push([contentType, body]);
    return Promise.resolve(200);
  }
}

const answer = (port: number, direction = 'sendrecv', pt = 0, rtpmap = 'PCMU/8000'): string => [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
  `m=audio ${port} RTP/AVP ${pt}`, `a=rtpmap:${pt} ${rtpmap}`, `a=${direction}`, '',
].join('\r\n');

async function bindable(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((r) => s.close(() => r()));
  return ok;
}

const live: Call[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((c) => c.close()));
});

interface Harness {
  call: Call;
  sip: FakeSipCall;
  statuses: string[];
  last: () => CallObject;
  closed: Promise<void>;
  audioPort: number;
}

/** A started call, dialled through the fake user agent (TRYING). */
async function dial(params: Partial<StartupParams> = {}, deps: Partial<CallDeps> = {}): Promise<Harness> {
  const base = await freeUdpPortRange(8);
  const invites: FakeSipCall[] = [];
  const ua = {
    invite: (o: InviteOptions) => {
      const c = new FakeSipCall(o);
      invites.push(c);
      return c as unknown as SipClientCall;
    },
    lastMessage: () => undefined,
  } as unknown as SipUserAgent;
  const call = new Call({
    callId: 'c1', toStream: 's1', callee: '1000', hasAudio: true, hasVideo: false, sipRegisterRequired: false,
    sipDomain: '127.0.0.1', appKey: 'a', custom: {}, ...params,
  }, {
    nodeId: 'n', sessionId: 's', sip: ua, ports: new PortAllocator({ min: base, max: base + 7, host: '127.0.0.1' }),
    sdpAddress: '127.0.0.1', ringTimeoutMs: 30_000, jitterBufferMs: 50,
    codecs: { audio: ['pcmu', 'pcma'], video: ['h264'], h264Profiles: [] },
    transcode: { audioBitrate: 64000, audioSampleRate: 48000 },
    mediaTuning: { audioOutput: 'copy', generateMediaForUa: false, rtpActivityTimeoutMs: 0 },
    rtmpConnectTimeoutMs: 2000, embeddedRtmpUrl: null, log: silentLogger(), ...deps,
  }, null);
  live.push(call);
  const statuses: string[] = [];
  let last: CallObject | undefined;
  call.on('change', (o) => {
    last = o;
    if (statuses.at(-1) !== o.status) statuses.push(o.status);
  });
  const closed = new Promise<void>((r) => call.once('closed', () => r()));
  call.start();
  await expect.poll(() => invites.length).toBe(1);
  const sip = invites[0]!;
  expect(sip.started).toBe(true);
  const audioPort = Number(/m=audio (\d+)/.exec(sip.opts.sdpOffer)?.[1]);
  return { call, sip, statuses, last: () => last!, closed, audioPort };
}

describe('Call (fake SIP user agent)', () => {
  it('180 → RING, 200 → ESTABLISHED; terminate sends one BYE, ends FINISH and releases the RTP ports', async () => {
    const h = await dial();
    expect(await bindable(h.audioPort)).toBe(false);
    h.sip.emit('progress', 180, 'Ringing', undefined);
    h.sip.emit('established', 200, answer(40_000));
    expect(h.last().audioCodec).toBe('PCMU/8000');
    h.call.terminate();
    h.call.terminate();
    await h.closed;
    expect(h.statuses).toEqual(['PENDING', 'TRYING', 'RING', 'ESTABLISHED', 'FINISH']);
    expect(h.last()).toMatchObject({ status: 'FINISH', info: 'NORMAL_CALL_CLEARING', sipStatus: 200 });
    expect(h.sip.hangups).toBe(1);
    expect(await bindable(h.audioPort)).toBe(true);
    // A late SIP event of the ended call changes nothing.
    h.sip.emit('failed', 487, 'Request Terminated');
    expect(h.statuses.at(-1)).toBe('FINISH');
  });

  it("the far end's BYE ends the call FINISH with no hangup of ours", async () => {
    const h = await dial();
    h.sip.emit('established', 200, answer(40_000));
    h.sip.emit('ended', 'remote', 'BYE');
    await h.closed;
    expect(h.statuses).toEqual(['PENDING', 'TRYING', 'ESTABLISHED', 'FINISH']);
    expect(h.sip.hangups).toBe(0);
  });

  it.each([
    [486, 'Busy Here', 'BUSY', 'Busy Here'],
    [600, 'Busy Everywhere', 'BUSY', 'Busy Everywhere'],
    [408, 'Request Timeout', 'FAILED', 'FAILED_BY_REQUEST_TIMEOUT'],
    [404, 'Not Found', 'FAILED', 'Not Found'],
  ])('a final %i ends the call %s (%s) with the SIP status', async (code, reason, status, info) => {
    const h = await dial();
    h.sip.emit('failed', code, reason);
    await h.closed;
    expect(h.last()).toMatchObject({ status, info, sipStatus: code });
    expect(h.sip.hangups).toBe(0);
  });

  it.each([
    ['no codec we take', answer(40_000, 'sendrecv', 3, 'GSM/8000'), 'NO_COMMON_CODECS'],
    ['port out of range', answer(70_000), 'BAD_SDP_ANSWER: '],
  ])('an answer with %s ends the call FAILED with the reason and our BYE', async (_what, sdp, info) => {
    const h = await dial();
    h.sip.emit('established', 200, sdp);
    await h.closed;
    expect(h.last().status).toBe('FAILED');
    expect(h.last().info!.startsWith(info)).toBe(true);
    expect(h.sip.hangups).toBe(1);
  });

  it('a hold offer → HOLD, a sendrecv one → ESTABLISHED', async () => {
    const h = await dial();
    h.sip.emit('established', 200, answer(40_000));
    h.sip.emit('reinvite', answer(40_000, 'sendonly'));
    h.sip.emit('reinvite', answer(40_002, 'sendrecv'));
    expect(h.statuses).toEqual(['PENDING', 'TRYING', 'ESTABLISHED', 'HOLD', 'ESTABLISHED']);
  });

  it('18x with SDP → SESSION_PROGRESS, then the 2xx → ESTABLISHED on the same media', async () => {
    const h = await dial();
    h.sip.emit('progress', 183, 'Session Progress', answer(40_000));
    h.sip.emit('established', 200, answer(40_000));
    expect(h.statuses).toEqual(['PENDING', 'TRYING', 'SESSION_PROGRESS', 'ESTABLISHED']);
  });

  it('joinDtmf goes out as SIP INFO once established', async () => {
    const h = await dial({ joinDtmf: { digits: '12#', delayMs: 10, type: 'INFO' } });
    h.sip.emit('established', 200, answer(40_000));
    await expect.poll(() => h.sip.infos.length).toBe(3);
    expect(h.sip.infos).toEqual([['application/dtmf', '1'], ['application/dtmf', '2'], ['application/dtmf', '#']]);
  });

  it('an RTMP target that refuses the first connection ends the call FAILED_BY_RTMP_WRITER_ERROR, with our BYE', async () => {
    const port = await freeTcpPort();
    const h = await dial({ rtmpUrl: `rtmp://127.0.0.1:${port}/live` });
    h.sip.emit('established', 200, answer(40_000));
    await h.closed;
    expect(h.last()).toMatchObject({ status: 'FAILED', info: 'FAILED_BY_RTMP_WRITER_ERROR', rtmpStreamStatus: 'RTMP_CONNECTION_FAILED' });
    expect(h.sip.hangups).toBe(1);
  });

  it('close() waits for the BYE, ends once, and every later close or terminate gets the same end', async () => {
    const h = await dial();
    h.sip.emit('established', 200, answer(40_000));
    let answerBye: () => void = () => undefined;
    h.sip.hangupDone = new Promise((r) => {
      answerBye = r;
    });
    let done = false;
    const first = h.call.close('SHUTDOWN').then(() => {
      done = true;
    });
    await h.closed;
    expect(done).toBe(false);
    answerBye();
    await first;
    await h.call.close();
    h.call.terminate();
    expect(h.sip.hangups).toBe(1);
    expect(h.last()).toMatchObject({ status: 'FINISH', info: 'SHUTDOWN' });
    expect(await bindable(h.audioPort)).toBe(true);
  });

  it('every RTP port busy → FAILED with the reason, nothing dialled, no hangup', async () => {
    const base = await freeUdpPortRange(2);
    const statuses: string[] = [];
    const invite = (): never => {
      throw new Error('must not dial');
    };
    const call = new Call({
      callId: 'c2', toStream: 's2', callee: '1000', hasAudio: true, hasVideo: false, sipRegisterRequired: false,
      sipDomain: '127.0.0.1', appKey: 'a', custom: {},
    }, {
      nodeId: 'n', sessionId: 's', sip: { invite, lastMessage: () => undefined } as unknown as SipUserAgent,
      ports: new PortAllocator({ min: base, max: base + 1, host: '127.0.0.1' }),
      sdpAddress: '127.0.0.1', ringTimeoutMs: 30_000, jitterBufferMs: 50,
      codecs: { audio: ['pcmu'], video: ['h264'], h264Profiles: [] },
      transcode: { audioBitrate: 64000, audioSampleRate: 48000 },
      rtmpConnectTimeoutMs: 2000, embeddedRtmpUrl: null, log: silentLogger(),
    }, null);
    live.push(call);
    let info: string | null = null;
    call.on('change', (o) => {
      statuses.push(o.status);
      info = o.info;
    });
    const closed = new Promise<void>((r) => call.once('closed', () => r()));
    call.start();
    await closed;
    expect(statuses).toEqual(['PENDING', 'FAILED']);
    expect(info).toMatch(/port/i);
    expect(await bindable(base)).toBe(true);
  });
});
