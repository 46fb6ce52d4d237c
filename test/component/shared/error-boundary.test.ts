import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'error-boundary-child.ts');

function run(...args: string[]): { status: number | null; lines: any[]; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, lines: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)), stderr: r.stderr };
}

describe('error boundary (a process of its own)', () => {
  it('hands each scope what escaped its timers, sockets, promises and listeners; the process lives on', () => {
    const r = run();
    expect(r.status).toBe(0);
    expect(r.lines).toEqual(expect.arrayContaining([
      { scope: 'a', how: 'timer', message: 'from a timer' },
      { scope: 'b', how: 'socket', message: 'from a socket callback' },
      { scope: 'c', how: 'rejection', message: 'from a promise' },
      { scope: 'd', how: 'listener', message: 'from a listener' },
      { scope: null, msg: 'unhandled promise rejection outside any call', message: 'rejection outside' },
      { alive: true },
    ]));
    expect(r.lines).toHaveLength(6);
  });

  it('an exception outside every scope still ends the process (exit 1, with its stack)', () => {
    const r = run('outside');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/uncaught exception outside any call: Error: thrown outside any scope/);
  });
});
