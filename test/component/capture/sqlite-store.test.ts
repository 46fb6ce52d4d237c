import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteCaptureStore, type CaptureRecord } from '../../../src/capture/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function record(id: string, updatedAt: number): CaptureRecord {
  return {
    captureId: id, startAt: 1, endAt: 2, retry: { intervalMs: 15_000, maxAttempts: 0 },
    call: { callee: 'sip:a@b', toStream: id, hasAudio: true, hasVideo: true, sipRegisterRequired: false, appKey: 'callApp', custom: { k: [1] }, sipPassword: 'pw' },
    status: 'SCHEDULED', attempt: 0, callId: null, info: null, createdAt: 1, updatedAt,
  };
}

describe('SqliteCaptureStore', () => {
  it('keeps records across a reopen, updates in place, removes; the file is private to the gateway user', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cap-store-'));
    dirs.push(dir);
    const file = path.join(dir, 'nested', 'captures.db');
    const a = new SqliteCaptureStore(file);
    a.save(record('one', 10));
    a.save(record('two', 5));
    a.save({ ...record('one', 20), status: 'LIVE', attempt: 1 });
    a.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const b = new SqliteCaptureStore(file);
    const loaded = b.load();
    expect(loaded.map((r) => [r.captureId, r.status, r.attempt])).toEqual([['two', 'SCHEDULED', 0], ['one', 'LIVE', 1]]);
    expect(loaded[1]).toEqual({ ...record('one', 20), status: 'LIVE', attempt: 1 });
    b.remove('two');
    expect(b.load().map((r) => r.captureId)).toEqual(['one']);
    b.close();
    b.close();
  });

  it('refuses a path it cannot create (the gateway then does not start)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cap-store-'));
    dirs.push(dir);
    const file = path.join(dir, 'plain-file');
    writeFileSync(file, 'x');
    expect(() => new SqliteCaptureStore(path.join(file, 'captures.db'))).toThrow(/ENOTDIR|EEXIST/);
  });
});
