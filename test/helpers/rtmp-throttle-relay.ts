/**
 * A TCP relay on 127.0.0.1 that forwards to a target but reads from its
 * client at a limited rate (a token bucket), playing a slow uplink to an RTMP
 * server: the client's socket backs up while the server still answers.
 */
import net from 'node:net';

export interface ThrottleRelay {
  port: number;
  /** Bytes forwarded client → target so far. */
  readonly forwarded: number;
  close(): Promise<void>;
}

/** Starts a relay to `target` reading at most `bytesPerSecond` from each client. */
export async function startThrottleRelay(target: { host: string; port: number }, bytesPerSecond: number): Promise<ThrottleRelay> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let forwarded = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    sockets.add(client);
    sockets.add(upstream);
    for (const s of [client, upstream]) {
      s.on('error', () => undefined);
      s.once('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    // Every 100 ms forward at most a tenth of the rate; stop reading while a slice's worth waits.
    const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const tick = setInterval(() => {
      let budget = slice;
      while (budget > 0 && pending.length > 0) {
        const head = pending[0] as Buffer;
        const part = head.length <= budget ? head : head.subarray(0, budget);
        upstream.write(part);
        forwarded += part.length;
        budget -= part.length;
        pendingBytes -= part.length;
        if (part === head) pending.shift();
        else pending[0] = head.subarray(part.length);
      }
      if (pendingBytes < slice && client.isPaused()) client.resume();
    }, 100);
    timers.add(tick);
    client.once('close', () => {
      clearInterval(tick);
      timers.delete(tick);
      pending = [];
    });
    client.on('data', (d: Buffer) => {
      pending.push(d);
      pendingBytes += d.length;
      if (pendingBytes >= slice) client.pause();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    get forwarded() {
      return forwarded;
    },
    close() {
      closing ??= (async () => {
        for (const t of timers) clearInterval(t);
        for (const s of sockets) s.destroy();
        await new Promise((r) => server.close(r));
      })();
      return closing;
    },
  };
}
