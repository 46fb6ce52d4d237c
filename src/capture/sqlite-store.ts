/**
 * The embedded capture store (SPEC §7 `capture.store: "sqlite"`): one SQLite
 * file (better-sqlite3), one row per capture holding its record as JSON. The
 * record includes the far end's SIP password (a capture that fires after a
 * restart must still authenticate), so the file and its directory are only
 * readable by the gateway's user. WAL journal: a crash never leaves a torn
 * schedule behind.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { CaptureRecord, CaptureStore } from './types.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS captures (
  capture_id TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  updated_at INTEGER NOT NULL
)`;

export class SqliteCaptureStore implements CaptureStore {
  readonly #db: Database.Database;
  readonly #put: Database.Statement<[string, string, number]>;
  readonly #del: Database.Statement<[string]>;

  /** Opens (creating) the database at `file`; throws when it cannot (the gateway then refuses to start). */
  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.#db = new Database(file);
    chmodSync(file, 0o600);
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(SCHEMA);
    this.#put = this.#db.prepare('INSERT INTO captures (capture_id, record, updated_at) VALUES (?, ?, ?) '
      + 'ON CONFLICT(capture_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at');
    this.#del = this.#db.prepare('DELETE FROM captures WHERE capture_id = ?');
  }

  load(): CaptureRecord[] {
    const rows = this.#db.prepare('SELECT record FROM captures ORDER BY updated_at').all() as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as CaptureRecord);
  }

  save(r: CaptureRecord): void {
    this.#put.run(r.captureId, JSON.stringify(r), r.updatedAt);
  }

  remove(captureId: string): void {
    this.#del.run(captureId);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
