/**
 * A TLS-terminating relay on 127.0.0.1 (what an RTMPS ingest does in front of
 * its RTMP servers): accepts TLS with the given certificate and pipes the
 * plain bytes to a TCP target.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface TlsRelay {
  port: number;
  /** TLS sessions accepted so far (handshake completed). */
  readonly sessions: number;
  /** Negotiated protocol of the last session (e.g. `TLSv1.3`). */
  readonly lastProtocol: string | null;
  close(): Promise<void>;
}

export async function startTlsRelay(target: { host: string; port: number }, cert: { cert: string; key: string }): Promise<TlsRelay> {
  const sockets = new Set<net.Socket>();
  let sessions = 0;
  let lastProtocol: string | null = null;
  const server = tls.createServer({ cert: cert.cert, key: cert.key }, (client) => {
    sessions++;
    lastProtocol = client.getProtocol();
    const upstream = net.connect(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    get sessions() {
      return sessions;
    },
    get lastProtocol() {
      return lastProtocol;
    },
    close() {
      closing ??= (async () => {
        for (const s of sockets) s.destroy();
        await new Promise((r) => server.close(r));
      })();
      return closing;
    },
  };
}
