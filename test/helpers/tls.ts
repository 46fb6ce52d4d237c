/**
 * Test certificates made with Debian's `openssl`: a throw-away CA and a
 * server certificate for 127.0.0.1 / localhost signed by it, in a temp folder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from './proc.js';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** PEM contents. */
  pem: { ca: string; cert: string; key: string };
  /** Removes the folder. */
  remove(): void;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

/** Makes a CA and a server certificate with subjectAltName IP:127.0.0.1, DNS:localhost (1 day, EC P-256). */
export async function makeTestPki(cn = 'sip-test-server'): Promise<TestPki> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pki-'));
  const f = (n: string): string => path.join(dir, n);
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=sip-test-ca'], dir);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${cn}`], dir);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf'], dir);
  return {
    dir,
    caCert: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    pem: { ca: readFileSync(f('ca.pem'), 'utf8'), cert: readFileSync(f('server.pem'), 'utf8'), key: readFileSync(f('server.key'), 'utf8') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
