import { describe, it, expect } from 'vitest';
import { resolveTarget } from '../../../src/call/sip-target.js';
import { ValidationError } from '../../../src/shared/errors.js';
import type { StartupParams } from '../../../src/call/types.js';

const base: StartupParams = { callee: '10001', hasAudio: true, hasVideo: true, sipRegisterRequired: false, appKey: 'callApp', custom: {} };

describe('resolveTarget', () => {
  it('builds sip:<callee>@<sipDomain> and sends to the domain on 5060', () => {
    expect(resolveTarget({ ...base, sipDomain: 'sip.example.com', sipLogin: '10009' }, null)).toEqual({
      requestUri: 'sip:10001@sip.example.com', fromUser: '10009', fromHost: 'sip.example.com',
      destination: { host: 'sip.example.com', port: 5060 },
    });
  });
  it('sends to the outbound proxy and appends inviteParameters', () => {
    const t = resolveTarget({ ...base, sipDomain: 'example.com', sipOutboundProxy: '10.0.0.5', sipPort: 5080, inviteParameters: { 'x-room': '7' } }, null);
    expect(t.requestUri).toBe('sip:10001@example.com;x-room=7');
    expect(t.destination).toEqual({ host: '10.0.0.5', port: 5080 });
  });
  it('uses a full SIP URI callee as is, sending to its host and port', () => {
    const t = resolveTarget({ ...base, callee: 'sip:service@127.0.0.1:5070' }, null);
    expect(t.requestUri).toBe('sip:service@127.0.0.1:5070');
    expect(t.destination).toEqual({ host: '127.0.0.1', port: 5070 });
  });
  it('requires a domain for a bare callee', () => {
    expect(() => resolveTarget(base, null)).toThrow(ValidationError);
    expect(resolveTarget(base, 'pbx.local').requestUri).toBe('sip:10001@pbx.local');
  });
});
