import { describe, it, expect } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig, envOverrides } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/shared/errors.js';

describe('configuration', () => {
  it('gives the defaults of SPEC §7 for an empty file', () => {
    const c = parseConfig({});
    expect(c.rest.httpPort).toBe(8081);
    expect(c.sip.port).toBe(5060);
    expect(c.rtp).toMatchObject({ portMin: 31000, portMax: 31999, jitterBufferMs: 100, rtpActivityTimeoutMs: 60000 });
    expect(c.rtmp.embedded).toMatchObject({ enabled: true, rtmpPort: 1935, httpPort: 8000, app: 'live' });
    expect(c.webhook.apps).toEqual({ callApp: 'http://localhost:9091/CallApp' });
    expect(Object.isFrozen(c.rest)).toBe(true);
  });

  it('deep-merges the file over the defaults and the environment over the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gwcfg-'));
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ rest: { httpPort: 9000 }, sip: { userAgent: 'X' } }));
    const c = loadConfig(file, { GATEWAY__rest__httpPort: '9100', GATEWAY__log__level: 'debug' });
    expect(c.rest.httpPort).toBe(9100);
    expect(c.rest.httpsPort).toBe(8444);
    expect(c.sip.userAgent).toBe('X');
    expect(c.log.level).toBe('debug');
  });

  it('lists every problem in one error', () => {
    let err: unknown;
    try {
      parseConfig({ profile: 'production', rest: { httpPort: 'x' }, rtp: { portMin: 31001 }, webhook: { apps: { a: 'ftp://x' } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toContain('rest.httpPort');
    expect(problems).toContain('rtp.portMin');
    expect(problems).toContain('rest.users');
    expect(problems).toContain('webhook.apps.a');
  });

  it('reports an unreadable or non-JSON file', () => {
    expect(() => loadConfig('/nonexistent/x.json', {})).toThrow(/cannot read/);
    const dir = mkdtempSync(path.join(tmpdir(), 'gwcfg-'));
    writeFileSync(path.join(dir, 'bad.json'), '{nope');
    expect(() => loadConfig(path.join(dir, 'bad.json'), {})).toThrow(/not valid JSON/);
  });

  it('parses environment values as JSON when possible', () => {
    expect(envOverrides({ GATEWAY__rtp__generateMediaForUa: 'false', GATEWAY__nodeId: 'n2', OTHER: '1' }))
      .toEqual({ rtp: { generateMediaForUa: false }, nodeId: 'n2' });
  });
});
