/**
 * The coordinator's SQLite schema and typed access. This storage is the truth about a DAG's
 * runs; D1 only holds a copy for queries.
 */

import type { RunWrite } from "../db/runs.ts";
import { formatParams } from "../domain/params.ts";
import type { RunTrigger } from "../domain/run.ts";

/** The first schema; later versions are the steps in MIGRATIONS. */
const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS runs (
  id           TEXT PRIMARY KEY,
  seq          INTEGER NOT NULL,
  status       INTEGER NOT NULL CHECK (status BETWEEN 0 AND 6),
  spec         TEXT NOT NULL,
  params       TEXT NOT NULL,
  payload      TEXT,
  trigger      TEXT NOT NULL,
  triggered_by TEXT NOT NULL,
  queued_at    TEXT NOT NULL,
  started_at   TEXT,
  finished_at  TEXT,
  -- Once the steps are done: the outcome that decides which handlers run, then the handlers left.
  outcome      TEXT CHECK (outcome IN ('succeeded', 'failed', 'aborted', 'partially_succeeded')),
  handlers     TEXT NOT NULL DEFAULT '[]',
  error        TEXT,
  updated_at   TEXT NOT NULL,
  -- The updated_at last written to D1: a run whose two differ has a stale D1 copy.
  synced_at    TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, seq);
-- Only runs with a stale D1 copy: every state change looks them up.
CREATE INDEX IF NOT EXISTS runs_unsynced ON runs (id) WHERE synced_at IS NOT updated_at;

CREATE TABLE IF NOT EXISTS nodes (
  run_id      TEXT NOT NULL,
  name        TEXT NOT NULL,
  -- 'step' or a handler: 'success', 'failure', 'abort', 'exit'.
  kind        TEXT NOT NULL CHECK (kind IN ('step', 'success', 'failure', 'abort', 'exit')),
  position    INTEGER NOT NULL,
  status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 5),
  attempt     INTEGER NOT NULL DEFAULT 0,
  -- Where the current attempt is: results are applied only to a dispatched or claimed attempt.
  attempt_state TEXT NOT NULL DEFAULT 'none'
    CHECK (attempt_state IN ('none', 'dispatched', 'claimed', 'waiting_retry', 'done')),
  retry_count INTEGER NOT NULL DEFAULT 0,
  started_at  TEXT,
  finished_at TEXT,
  exit_code   INTEGER,
  error       TEXT,
  output      TEXT,
  stdout      TEXT NOT NULL DEFAULT '',
  stderr      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, name)
);

-- Everything that must happen later, driven by the one alarm: step leases (an attempt that
-- never reports back), retry delays, run timeouts and retries of a failed D1 write.
CREATE TABLE IF NOT EXISTS timers (
  kind    TEXT NOT NULL CHECK (kind IN ('lease', 'retry', 'run_timeout', 'd1_sync')),
  run_id  TEXT NOT NULL,
  step    TEXT NOT NULL DEFAULT '',
  attempt INTEGER NOT NULL DEFAULT 0,
  due_ms  INTEGER NOT NULL,
  PRIMARY KEY (kind, run_id, step)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_ms);

-- Messages to other systems that must not be lost: run-finished events for the alerts.
CREATE TABLE IF NOT EXISTS outbox (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  kind     TEXT NOT NULL CHECK (kind IN ('event')),
  run_id   TEXT NOT NULL,
  body     TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);

CREATE TABLE IF NOT EXISTS run_log (
  run_id TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  line   TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
`;

/** Schema changes after version 1, in order: entry i brings storage to version i + 2. */
const MIGRATIONS = [
  // v2: a retry of one step (Dagu's `stepName`) leaves the run's other steps as they are;
  // finished runs are pruned by age.
  `ALTER TABLE runs ADD COLUMN only_step TEXT;
   CREATE INDEX IF NOT EXISTS runs_by_finish ON runs (finished_at) WHERE finished_at IS NOT NULL;`,
  // v3: the request headers a DAG forwards from its webhook trigger (WEBHOOK_HEADERS).
  `ALTER TABLE runs ADD COLUMN headers TEXT;`,
];
export const SCHEMA_VERSION = MIGRATIONS.length + 1;

export type RunRecord = {
  id: string;
  seq: number;
  status: number;
  spec: string;
  params: string;
  payload: string | null;
  trigger: string;
  triggered_by: string;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  outcome: "succeeded" | "failed" | "aborted" | "partially_succeeded" | null;
  handlers: string;
  error: string | null;
  /** Set while a retry re-runs this one step only. */
  only_step: string | null;
  /** JSON of the forwarded webhook request headers (lower-case names), or null. */
  headers: string | null;
  updated_at: string;
  synced_at: string | null;
};

/** The run as its D1 copy (and the run lists) show it. */
export function toRunRow(dagId: string, run: RunRecord): RunWrite {
  return {
    dag_id: dagId,
    run_id: run.id,
    status: run.status,
    params: formatParams(JSON.parse(run.params)),
    trigger: run.trigger as RunTrigger,
    triggered_by: run.triggered_by,
    queued_at: run.queued_at,
    started_at: run.started_at,
    finished_at: run.finished_at,
    updated_at: run.updated_at,
  };
}

export type NodeKind = "step" | "success" | "failure" | "abort" | "exit";
export type AttemptState = "none" | "dispatched" | "claimed" | "waiting_retry" | "done";

export type NodeRecord = {
  run_id: string;
  name: string;
  kind: NodeKind;
  position: number;
  status: number;
  attempt: number;
  attempt_state: AttemptState;
  retry_count: number;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  output: string | null;
  stdout: string;
  stderr: string;
};

export type TimerKind = "lease" | "retry" | "run_timeout" | "d1_sync";
export type TimerRecord = { kind: TimerKind; run_id: string; step: string; attempt: number; due_ms: number };

/** Thin typed wrapper over `ctx.storage.sql`: an error names the query that failed. */
export class Sql {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  all<T>(query: string, ...bindings: SqlStorageValue[]): T[] {
    try {
      return this.#sql.exec(query, ...bindings).toArray() as T[];
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)} in: ${query.trim().slice(0, 120)}`);
    }
  }

  first<T>(query: string, ...bindings: SqlStorageValue[]): T | undefined {
    return this.all<T>(query, ...bindings)[0];
  }

  run(query: string, ...bindings: SqlStorageValue[]): void {
    this.all(query, ...bindings);
  }

  migrate(): void {
    const stored = this.#tableExists("meta") ? Number(this.meta("schema") ?? 0) : 0;
    if (stored >= SCHEMA_VERSION) return;
    if (stored === 0) this.#sql.exec(SCHEMA_V1);
    for (let version = Math.max(stored, 1); version < SCHEMA_VERSION; version++)
      this.#sql.exec(MIGRATIONS[version - 1]!);
    this.setMeta("schema", String(SCHEMA_VERSION));
  }

  meta(key: string): string | undefined {
    return this.first<{ value: string }>("SELECT value FROM meta WHERE key = ?", key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value);
  }

  #tableExists(name: string): boolean {
    return this.first("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", name) !== undefined;
  }
}
