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
    expect(c.capture).toEqual({ store: 'sqlite', path: './data/captures.db', leadMs: 30000, maxDurationS: 43200 });
    expect(c.recording).toEqual({ dir: 'recordings', minFreeBytes: 512 * 1024 * 1024, maxFileBytes: 0 });
  });

  it('the cluster example (examples/cluster) is a valid configuration; the cluster is off by default', () => {
    expect(parseConfig({}).cluster).toMatchObject({ redisUrl: null, name: 'default', placement: 'local', maxCallsPerNode: null, heartbeatMs: 2000, nodeTtlMs: 6000 });
    const c = loadConfig(path.join(import.meta.dirname, '../../../examples/cluster/node.json'), { GATEWAY__nodeId: 'gw-a' });
    expect(c.cluster).toMatchObject({ redisUrl: 'redis://redis:6379', placement: 'least-loaded', recover: true });
    expect(() => parseConfig({ cluster: { redisUrl: 'http://x', heartbeatMs: 5000, nodeTtlMs: 4000 } })).toThrow(/cluster\.redisUrl[\s\S]*cluster\.nodeTtlMs|cluster\.nodeTtlMs[\s\S]*cluster\.redisUrl/);
  });

  it('refuses capture.store "redis" without the cluster, saying what to use', () => {
    expect(() => parseConfig({ capture: { store: 'redis' } })).toThrow(/capture\.store.*"redis" keeps the schedules in the cluster's Redis: set cluster\.redisUrl, or use "sqlite"/s);
    expect(parseConfig({ capture: { store: 'redis' }, cluster: { redisUrl: 'redis://127.0.0.1:6379' } }).capture.store).toBe('redis');
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

  it('is safe to expose by default: REST, dashboard and the embedded server on loopback; beyond it, credentials or signed play', () => {
    const c = parseConfig({});
    expect(c.rest.host).toBe('127.0.0.1');
    expect(c.rtmp.embedded.host).toBe('127.0.0.1');
    const problems = (cfg: unknown): string => {
      try {
        parseConfig(cfg);
        return '';
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems.join('\n');
      }
    };
    expect(problems({ rest: { host: '0.0.0.0' } })).toMatch(/rest\.host.*set rest\.users/);
    expect(problems({ rest: { host: '192.0.2.7' } })).toMatch(/rest\.host/);
    expect(problems({ rest: { host: '0.0.0.0', users: [{ name: 'a', password: 'b' }] } })).toBe('');
    expect(problems({ rtmp: { embedded: { host: '0.0.0.0' } } })).toMatch(/rtmp\.embedded\.host.*auth\.play/);
    expect(problems({ rtmp: { embedded: { host: '0.0.0.0', auth: { play: true, secret: '0123456789abcdef' } } } })).toBe('');
    expect(problems({ rtmp: { publicViewers: true, embedded: { host: '0.0.0.0' } } })).toBe('');
    expect(problems({ rtmp: { embedded: { enabled: false, host: '0.0.0.0' } } })).toBe('');
    // Both at once, with another mistake: one error lists all three.
    const all = problems({ rest: { host: '0.0.0.0' }, rtmp: { embedded: { host: '::' } }, rtp: { portMin: 1 } });
    expect(all).toMatch(/rest\.host/);
    expect(all).toMatch(/rtmp\.embedded\.host/);
    expect(all).toMatch(/rtp\.portMin/);
  });
});
