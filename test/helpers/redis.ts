/**
 * A real redis-server (Debian `redis-server`) on 127.0.0.1 and a free port,
 * no persistence (the cluster's registry is rebuilt from live nodes), stopped
 * by its own PID; `restart()` brings it back on the same port (a Redis
 * outage, then its return).
 */
import net from 'node:net';
import { spawnChild, stopChild } from './proc.js';
import { freeTcpPort } from './ports.js';
import { waitUntil } from './wait.js';

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  restart(): Promise<void>;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freeTcpPort();
  let proc: ReturnType<typeof spawnChild> | undefined;
  const start = async (): Promise<void> => {
    proc = spawnChild('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes']);
    await waitUntil(() => answersPing(port), 10_000, 50, `redis-server on ${port}`);
  };
  const stop = async (): Promise<void> => {
    if (proc) await stopChild(proc.child, proc.exited, 3000);
    proc = undefined;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, stop, restart: start };
}
