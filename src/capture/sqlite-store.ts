/**
 * The embedded capture store (SPEC §7 `capture.store: "sqlite"`): one SQLite
 * file (better-sqlite3), one row per capture (and per incoming declaration)
 * holding it as JSON. A record includes the far end's SIP password (a capture that fires after a
 * restart must still authenticate), so the file and its directory are only
 * readable by the gateway's user. WAL journal: a crash never leaves a torn
 * schedule behind.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { CaptureRecord, CaptureStore, IncomingDeclaration } from './types.js';

const SCHEMA = `CREATE TABLE IF NOT EXISTS captures (
  capture_id TEXT PRIMARY KEY,
  record TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS incoming (
  user_part TEXT PRIMARY KEY,
  declaration TEXT NOT NULL
)`;

export class SqliteCaptureStore implements CaptureStore {
  readonly #db: Database.Database;
  readonly #put: Database.Statement<[string, string, number]>;
  readonly #del: Database.Statement<[string]>;
  readonly #putIncoming: Database.Statement<[string, string]>;
  readonly #delIncoming: Database.Statement<[string]>;

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
    this.#putIncoming = this.#db.prepare('INSERT INTO incoming (user_part, declaration) VALUES (?, ?) '
      + 'ON CONFLICT(user_part) DO UPDATE SET declaration = excluded.declaration');
    this.#delIncoming = this.#db.prepare('DELETE FROM incoming WHERE user_part = ?');
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

  loadIncoming(): IncomingDeclaration[] {
    const rows = this.#db.prepare('SELECT declaration FROM incoming ORDER BY user_part').all() as { declaration: string }[];
    return rows.map((r) => JSON.parse(r.declaration) as IncomingDeclaration);
  }

  saveIncoming(d: IncomingDeclaration): void {
    this.#putIncoming.run(d.userPart, JSON.stringify(d));
  }

  removeIncoming(userPart: string): void {
    this.#delIncoming.run(userPart);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
