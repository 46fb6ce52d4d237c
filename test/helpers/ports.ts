/** Free-port helpers; every port is on 127.0.0.1. */
import dgram from 'node:dgram';
import net from 'node:net';

/**
 * A free UDP port on 127.0.0.1, picked at random in [10000, 20000): below the
 * kernel's ephemeral range (32768–60999 here), so no socket bound to port 0
 * elsewhere (a gateway's SIP port, a client) can take it between this probe
 * and the far end binding it; and apart from freeUdpPortRange's ports.
 */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 10000 + Math.floor(Math.random() * 10000);
    // Not a TCP listener's number either: the gateway sends an INVITE over 1300 bytes to a SIP far end's
    // port over TCP first (RFC 3261 §18.1.1), and must not reach some other test server there.
    if ((await udpFree(port)) && (await tcpFree(port))) return port;
  }
  throw new Error('freeUdpPort: no free UDP port found');
}

/** True when nothing listens on TCP 127.0.0.1:`port`. */
function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Asks the kernel for a free TCP port on 127.0.0.1 (listened then released). */
export async function freeTcpPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('freeTcpPort: no address');
  return addr.port;
}

async function udpFree(port: number): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  const ok = await new Promise<boolean>((resolve) => {
    sock.once('error', () => resolve(false));
    sock.bind(port, '127.0.0.1', () => resolve(true));
  });
  await new Promise<void>((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // never bound
    }
  });
  return ok;
}

/**
 * Finds an even base port such that `base .. base+count-1` are all free UDP
 * ports on 127.0.0.1 (RTP on even ports, RTCP on the next odd one, RFC 3550
 * §11; SIPp puts video at media port + 2). Ports are picked at random in
 * [20000, 32000), below the kernel's ephemeral range (see freeUdpPort).
 */
export async function freeUdpPortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + 2 * Math.floor(Math.random() * 6000);
    let all = true;
    for (let i = 0; i < count && all; i++) all = await udpFree(base + i);
    if (all) return base;
  }
  throw new Error(`freeUdpPortRange: no ${count} consecutive free UDP ports found`);
}
