import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { reasonLabel } from '../../../src/metrics/collector.js';

describe('reason label of gateway_calls_ended_total', () => {
  it('keeps our codes, maps far-end text to its SIP status, and everything else to OTHER', () => {
    expect(reasonLabel('NORMAL_CALL_CLEARING', 200)).toBe('NORMAL_CALL_CLEARING');
    expect(reasonLabel('BAD_SDP_ANSWER: audio port 70000 is out of range', 200)).toBe('BAD_SDP_ANSWER');
    expect(reasonLabel('INTERNAL_ERROR: x', null)).toBe('INTERNAL_ERROR');
    expect(reasonLabel('Busy Here', 486)).toBe('SIP_486');
    expect(reasonLabel('<script>any text a far end sends</script>', 603)).toBe('SIP_603');
    expect(reasonLabel('connect ECONNREFUSED 127.0.0.1:5060', null)).toBe('OTHER');
    expect(reasonLabel(null, null)).toBe('OTHER');
  });

  it('takes at most a bounded set of values whatever the input', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.option(fc.string({ maxLength: 60 })), fc.option(fc.integer({ min: -5, max: 2000 })), (info, status) => {
      seen.add(reasonLabel(info, status));
    }), { numRuns: 3000, seed: 3 });
    expect([...seen].every((v) => /^(SIP_[1-6]\d\d|OTHER|[A-Z_]+)$/.test(v))).toBe(true);
    expect(seen.size).toBeLessThanOrEqual(7 + 600 + 1);
  });
});
