/**
 * Security of the REST API (SPEC §2): HTTPS with a configured certificate,
 * Basic auth on every REST route in the production profile.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import https from 'node:https';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { freeTcpPort } from '../helpers/ports.js';

let gw: TestGateway;
let pki: TestPki;

function httpsPost(port: number, path: string, body: string, ca: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path, method: 'POST', ca,
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

beforeAll(async () => {
  pki = await makeTestPki('localhost');
  gw = await startTestGateway({
    profile: 'production',
    rest: { users: [{ name: 'ops', password: 'p4ss:word' }], httpsPort: await freeTcpPort(), tls: { cert: pki.serverCert, key: pki.serverKey } },
  });
});

afterAll(async () => {
  await gw?.close();
  pki?.remove();
});

describe('REST security', () => {
  it('production: no or wrong credentials → 401 with WWW-Authenticate: Basic, on every REST route', async () => {
    for (const route of ['/call/startup', '/call/find', '/call/find_all', '/call/terminate', '/call/send_dtmf', '/push/find_all']) {
      const res = await fetch(`${gw.baseUrl}/rest-api${route}`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(await res.json()).toMatchObject({ status: 401, error: 'Unauthorized' });
    }
    const wrong = await gw.rest('/call/find_all', {}, { headers: { authorization: basic('ops', 'nope') } });
    expect(wrong.status).toBe(401);
  });

  it('production: the right credentials pass (a password may hold a colon)', async () => {
    const res = await gw.rest('/call/find_all', {}, { headers: { authorization: basic('ops', 'p4ss:word') } });
    expect(res.status).toBe(404);
    expect(res.body.message).toBe('there are no calls');
  });

  it('serves the same API over HTTPS with the configured certificate', async () => {
    const port = gw.gw.httpsPort;
    expect(port).not.toBeNull();
    const res = await httpsPost(port as number, '/rest-api/call/find_all', '{}', pki.pem.ca, basic('ops', 'p4ss:word'));
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ status: 404, path: '/rest-api/call/find_all' });
    await expect(httpsPost(port as number, '/rest-api/call/find_all', '{}', '')).rejects.toThrow();
  });
});
