/** Free-port helpers; every port is on 127.0.0.1. */
import dgram from 'node:dgram';
import net from 'node:net';

/** Asks the kernel for a free UDP port on 127.0.0.1 (bound then released). */
export async function freeUdpPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => resolve());
    });
    const { port } = sock.address();
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    // Not a TCP listener's number either: the gateway sends an INVITE over 1300 bytes to a SIP far end's
    // port over TCP first (RFC 3261 §18.1.1), and must not reach some other test server there.
    if (attempt >= 20 || (await tcpFree(port))) return port;
  }
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
 * [20000, 58000) to keep clear of the ephemeral range's busiest part.
 */
export async function freeUdpPortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + 2 * Math.floor(Math.random() * 19000);
    let all = true;
    for (let i = 0; i < count && all; i++) all = await udpFree(base + i);
    if (all) return base;
  }
  throw new Error(`freeUdpPortRange: no ${count} consecutive free UDP ports found`);
}
