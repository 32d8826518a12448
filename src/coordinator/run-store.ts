/**
 * The coordinator's SQLite: schema, migrations and one typed method per query. This storage is
 * the truth about a DAG's runs (D1 holds a copy for queries); nothing else in the coordinator
 * writes SQL, and JSON columns are parsed here, once.
 */
import { z } from "zod";
import { parseJsonColumn } from "../db/json.ts";
import type { HandlerEvent, KeyValue } from "../domain/dag-spec.ts";
import type { FinalStatus } from "../domain/progress.ts";
import { isRunTrigger, type RunFinishedEvent, type RunTrigger } from "../domain/run.ts";
import { NODE_STATUS, type NodeStatus, RUN_STATUS } from "../domain/status.ts";
import type { ParentLink } from "../domain/sub-dag.ts";

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
  // v4: a repeating step (repeatPolicy): its runs so far and their stdout, which its log keeps.
  `ALTER TABLE nodes ADD COLUMN repeat_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE nodes ADD COLUMN repeat_stdout TEXT NOT NULL DEFAULT '';`,
  // v5: sub-DAGs. A run called by another DAG's step keeps its link to that step (JSON), and
  // whether the step has been told it finished; a calling step's runs are in sub_runs; timers
  // gain 'sub_runs' (retry starting them, ask after them, retry telling a parent).
  `ALTER TABLE runs ADD COLUMN parent TEXT;
   ALTER TABLE runs ADD COLUMN parent_told INTEGER NOT NULL DEFAULT 0 CHECK (parent_told IN (0, 1));
   CREATE TABLE sub_runs (
     run_id       TEXT NOT NULL,
     step         TEXT NOT NULL,
     attempt      INTEGER NOT NULL,
     -- The item of a parallel step, from 0; a single call is item 0.
     item         INTEGER NOT NULL,
     dag          TEXT NOT NULL,
     params       TEXT NOT NULL,
     child_run_id TEXT NOT NULL UNIQUE,
     -- waiting: beyond max_concurrent; starting: to be started (again, after a failed try);
     -- running: its coordinator has it; finished: it ended, or it can't start (error says why).
     state        TEXT NOT NULL CHECK (state IN ('waiting', 'starting', 'running', 'finished')),
     -- The coordinator that runs it (a stored DAG's id, or a document of the caller's file).
     child_key    TEXT,
     status       TEXT,
     -- What it ended with: its params as it ran with them (Dagu's result shows those), outputs.
     child_params TEXT,
     outputs      TEXT,
     error        TEXT,
     started_at   TEXT,
     finished_at  TEXT,
     PRIMARY KEY (run_id, step, attempt, item)
   );
   CREATE INDEX sub_runs_by_state ON sub_runs (state);
   -- A sub-DAG run has no D1 copy: the index of stale copies leaves it out (it would stay there
   -- forever, read by every commit), and finished ones not yet told to their caller get their own.
   DROP INDEX IF EXISTS runs_unsynced;
   CREATE INDEX runs_unsynced ON runs (id) WHERE synced_at IS NOT updated_at AND parent IS NULL;
   CREATE INDEX runs_untold ON runs (id) WHERE parent IS NOT NULL AND parent_told = 0 AND finished_at IS NOT NULL;
   CREATE TABLE timers_v5 (
     kind    TEXT NOT NULL CHECK (kind IN ('lease', 'retry', 'run_timeout', 'd1_sync', 'sub_runs')),
     run_id  TEXT NOT NULL,
     step    TEXT NOT NULL DEFAULT '',
     attempt INTEGER NOT NULL DEFAULT 0,
     due_ms  INTEGER NOT NULL,
     PRIMARY KEY (kind, run_id, step)
   );
   INSERT INTO timers_v5 SELECT kind, run_id, step, attempt, due_ms FROM timers;
   DROP TABLE timers;
   ALTER TABLE timers_v5 RENAME TO timers;
   CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_ms);`,
  // v6: the steps a run's finish ran, with their seconds, until the batch that writes the
  // finished run's D1 copy adds them to the DAG's step duration histogram (GET /metrics). Keyed
  // by the finish: a retried run finishes again, with the steps it ran again.
  `CREATE TABLE step_durations (
     run_id      TEXT NOT NULL,
     finished_at TEXT NOT NULL,
     step        TEXT NOT NULL,
     seconds     REAL NOT NULL CHECK (seconds >= 0),
     PRIMARY KEY (run_id, finished_at, step)
   );`,
  // v7: executors that die are noticed. A claimed attempt carries a fencing token (\`claim\`, raised
  // by every claim and takeover: a holder whose token is old changes nothing), the output offsets
  // its holder reported (where a takeover resumes), and how often its executor fell silent in a
  // row; timers gain 'heartbeat', the time by which the attempt's next sign of life is due.
  `ALTER TABLE nodes ADD COLUMN claim INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE nodes ADD COLUMN resume_from TEXT;
   ALTER TABLE nodes ADD COLUMN silences INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE timers_v7 (
     kind    TEXT NOT NULL CHECK (kind IN ('lease', 'heartbeat', 'retry', 'run_timeout', 'd1_sync', 'sub_runs')),
     run_id  TEXT NOT NULL,
     step    TEXT NOT NULL DEFAULT '',
     attempt INTEGER NOT NULL DEFAULT 0,
     due_ms  INTEGER NOT NULL,
     PRIMARY KEY (kind, run_id, step)
   );
   INSERT INTO timers_v7 SELECT kind, run_id, step, attempt, due_ms FROM timers;
   DROP TABLE timers;
   ALTER TABLE timers_v7 RENAME TO timers;
   CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_ms);`,
];
export const SCHEMA_VERSION = MIGRATIONS.length + 1;

export type NodeKind = "step" | HandlerEvent;
export type AttemptState = "none" | "dispatched" | "claimed" | "waiting_retry" | "done";
/**
 * lease: the attempt's time limit (timeoutSec, or the default); heartbeat: its executor's next
 * sign of life is due (or, before a claim, its message's pick-up).
 */
export type TimerKind = "lease" | "heartbeat" | "retry" | "run_timeout" | "d1_sync" | "sub_runs";
export type Timer = { kind: TimerKind; run_id: string; step: string; attempt: number };

/** A run as stored, JSON columns parsed. */
export type RunRecord = {
  id: string;
  seq: number;
  status: number;
  /** The DAG's YAML when the run was queued: a run keeps the spec it started with. */
  spec: string;
  params: KeyValue[];
  /** The webhook payload (exact JSON text) and the forwarded request headers (JSON), or null. */
  payload: string | null;
  headers: string | null;
  trigger: RunTrigger;
  triggered_by: string;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  outcome: FinalStatus | null;
  /** The handlers still to run, in order. */
  handlers: HandlerEvent[];
  error: string | null;
  /** Set while a retry re-runs this one step only. */
  only_step: string | null;
  /** The step that called this run and waits for it (a sub-DAG run), or null. */
  parent: ParentLink | null;
  /** Whether that step was told this run finished. */
  parent_told: number;
  updated_at: string;
  synced_at: string | null;
};

export type NodeRecord = {
  run_id: string;
  name: string;
  kind: NodeKind;
  position: number;
  status: number;
  attempt: number;
  attempt_state: AttemptState;
  retry_count: number;
  /** Runs of a repeating step that ended and were repeated, and the stdout they printed. */
  repeat_count: number;
  repeat_stdout: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  output: string | null;
  stdout: string;
  stderr: string;
  /** The fencing token of the attempt's current holder: raised by every claim and takeover. */
  claim: number;
  /** The output offsets its holder last reported (JSON OutputOffsets), where a takeover resumes. */
  resume_from: string | null;
  /** How many times in a row the attempt's executor was found silent (reset by a sign of life). */
  silences: number;
};

/** A run's row as SQLite returns it: JSON columns still text. */
type RunRow = Omit<RunRecord, "params" | "handlers" | "trigger" | "parent"> & {
  params: string;
  handlers: string;
  trigger: string;
  parent: string | null;
};

const KeyValueList = z.array(z.object({ key: z.string(), value: z.string() }));
const HandlerList = z.array(z.enum(["success", "failure", "abort", "exit"]));
const SecondsList = z.array(z.number());

function toRunRecord(row: RunRow): RunRecord {
  if (!isRunTrigger(row.trigger)) throw new Error(`run ${row.id} has an unknown trigger '${row.trigger}'`);
  return {
    ...row,
    trigger: row.trigger,
    params: parseJsonColumn(KeyValueList, row.params, "runs.params"),
    handlers: parseJsonColumn(HandlerList, row.handlers, "runs.handlers"),
    parent: row.parent === null ? null : parseJsonColumn(ParentLinkSchema, row.parent, "runs.parent"),
  };
}

const ParentLinkSchema = z.object({
  dagId: z.string(),
  dagName: z.string(),
  runId: z.string(),
  step: z.string(),
  attempt: z.number(),
  item: z.number(),
  depth: z.number(),
  rootDagName: z.string(),
  rootRunId: z.string(),
});

/** One run a calling step started (or will start), as its caller's coordinator keeps it. */
export type SubRunRecord = {
  run_id: string;
  step: string;
  attempt: number;
  item: number;
  dag: string;
  params: string;
  child_run_id: string;
  state: "waiting" | "starting" | "running" | "finished";
  child_key: string | null;
  /** Its final status label, once finished. */
  status: string | null;
  /** The params it ran with (its defaults and the call's), as Dagu's result shows them. */
  child_params: string | null;
  /** Its steps' outputs (JSON of a name → value map), once finished. */
  outputs: string | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
};

export type NewRun = Pick<
  RunRecord,
  "id" | "spec" | "params" | "payload" | "headers" | "trigger" | "triggered_by" | "queued_at" | "parent"
>;

/** A step attempt's final result, as recorded on its node. */
export type NodeResult = {
  status: NodeStatus;
  finishedAt: string;
  exitCode: number;
  error: string | null;
  output: string | null;
  stdout: string;
  stderr: string;
};

export class RunStore {
  readonly #sql: SqlStorage;

  readonly #reads = new Map<string, unknown>();
  #forgetting = false;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Brings the schema to SCHEMA_VERSION; cheap when it is current (one read). */
  migrate(): void {
    const stored = this.#tableExists("meta") ? Number(this.meta("schema") ?? 0) : 0;
    if (stored >= SCHEMA_VERSION) return;
    if (stored === 0) this.#sql.exec(SCHEMA_V1);
    for (let version = Math.max(stored, 1); version < SCHEMA_VERSION; version++)
      this.#sql.exec(MIGRATIONS[version - 1]!);
    this.setMeta("schema", String(SCHEMA_VERSION));
  }

  meta(key: string): string | undefined {
    return this.#first<{ value: string }>("SELECT value FROM meta WHERE key = ?", key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.#run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value);
  }

  // --- runs ----------------------------------------------------------------------------------

  run(id: string): RunRecord | undefined {
    const row = this.#memo(`run\n${id}`, () => this.#first<RunRow>("SELECT * FROM runs WHERE id = ?", id));
    return row && toRunRecord(row);
  }

  /** The latest run the DAG itself had (a sub-DAG run belongs to its caller's run). */
  latestRun(): RunRecord | undefined {
    const row = this.#first<RunRow>("SELECT * FROM runs WHERE parent IS NULL ORDER BY seq DESC LIMIT 1");
    return row && toRunRecord(row);
  }

  hasRun(id: string): boolean {
    return this.#first("SELECT 1 AS used FROM runs WHERE id = ?", id) !== undefined;
  }

  hasActiveRun(): boolean {
    return (
      this.#first("SELECT 1 AS active FROM runs WHERE status IN (?, ?)", RUN_STATUS.running, RUN_STATUS.queued) !==
      undefined
    );
  }

  /**
   * The oldest queued run, the next to start. Sub-DAG runs are not queued behind the DAG's
   * maxActiveRuns (their caller's max_concurrent bounds them) and don't count towards it.
   */
  nextQueuedRun(): RunRecord | undefined {
    const row = this.#first<RunRow>(
      "SELECT * FROM runs WHERE status = ? AND parent IS NULL ORDER BY seq LIMIT 1",
      RUN_STATUS.queued,
    );
    return row && toRunRecord(row);
  }

  countRunning(): number {
    return this.#first<{ n: number }>(
      "SELECT COUNT(*) AS n FROM runs WHERE status = ? AND parent IS NULL",
      RUN_STATUS.running,
    )!.n;
  }

  /** Runs whose D1 copy is older than their state; sub-DAG runs have none (their caller's run lists them). */
  staleRuns(): RunRecord[] {
    return this.#all<RunRow>("SELECT * FROM runs WHERE synced_at IS NOT updated_at AND parent IS NULL").map(
      toRunRecord,
    );
  }

  /** Finished sub-DAG runs whose calling step hasn't been told yet. */
  untoldParents(): RunRecord[] {
    return this.#all<RunRow>(
      "SELECT * FROM runs WHERE parent IS NOT NULL AND parent_told = 0 AND finished_at IS NOT NULL",
    ).map(toRunRecord);
  }

  hasUntoldParents(): boolean {
    return (
      this.#first(
        "SELECT 1 AS untold FROM runs WHERE parent IS NOT NULL AND parent_told = 0 AND finished_at IS NOT NULL LIMIT 1",
      ) !== undefined
    );
  }

  markParentTold(id: string): void {
    this.#run("UPDATE runs SET parent_told = 1 WHERE id = ?", id);
  }

  markSynced(run: Pick<RunRecord, "id" | "updated_at">): void {
    this.#run("UPDATE runs SET synced_at = ? WHERE id = ? AND updated_at = ?", run.updated_at, run.id, run.updated_at);
  }

  /** Queues a run with a node per step, in order. */
  insertRun(run: NewRun, stepNames: readonly string[]): void {
    // Next in sequence and its steps, one statement each: a start is on every trigger's path, and
    // each statement costs a round through the storage API.
    this.#run(
      `INSERT INTO runs (id, seq, status, spec, params, payload, headers, trigger, triggered_by, queued_at, updated_at, parent)
       SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM runs`,
      run.id,
      RUN_STATUS.queued,
      run.spec,
      JSON.stringify(run.params),
      run.payload,
      run.headers,
      run.trigger,
      run.triggered_by,
      run.queued_at,
      run.queued_at,
      run.parent === null ? null : JSON.stringify(run.parent),
    );
    this.#run(
      `INSERT INTO nodes (run_id, name, kind, position, status)
       SELECT ?, value, 'step', key, ? FROM json_each(?)`,
      run.id,
      NODE_STATUS.not_started,
      JSON.stringify(stepNames),
    );
  }

  markRunning(id: string, at: string): void {
    this.#run(
      "UPDATE runs SET status = ?, started_at = COALESCE(started_at, ?), updated_at = ? WHERE id = ?",
      RUN_STATUS.running,
      at,
      at,
      id,
    );
  }

  /** The steps are done (or were stopped): the outcome, and the handlers it runs. */
  setOutcome(id: string, outcome: FinalStatus, handlers: readonly HandlerEvent[], error?: string): void {
    this.#run(
      "UPDATE runs SET outcome = ?, handlers = ?, error = COALESCE(?, error) WHERE id = ?",
      outcome,
      JSON.stringify(handlers),
      error ?? null,
      id,
    );
  }

  setHandlers(id: string, handlers: readonly HandlerEvent[]): void {
    this.#run("UPDATE runs SET handlers = ? WHERE id = ?", JSON.stringify(handlers), id);
  }

  finishRun(id: string, status: FinalStatus, at: string): void {
    this.#run(
      "UPDATE runs SET status = ?, finished_at = ?, updated_at = ?, only_step = NULL WHERE id = ?",
      RUN_STATUS[status],
      at,
      at,
      id,
    );
  }

  /**
   * Notes the steps this finish of a run ran, for the step duration histogram: those that
   * started since the run was (re)queued — a retry's steps that succeeded before didn't run
   * again — and have both ends. Sub-DAG runs have no D1 copy to count them with; their calling
   * step is counted in its own run.
   */
  recordStepDurations(runId: string, finishedAt: string): void {
    this.#run(
      `INSERT OR IGNORE INTO step_durations (run_id, finished_at, step, seconds)
       SELECT n.run_id, ?, n.name, MAX(0, ROUND((julianday(n.finished_at) - julianday(n.started_at)) * 86400.0, 3))
       FROM nodes n JOIN runs r ON r.id = n.run_id
       WHERE n.run_id = ? AND n.kind = 'step' AND r.parent IS NULL
         AND n.started_at >= r.queued_at AND n.finished_at IS NOT NULL`,
      finishedAt,
      runId,
    );
  }

  /** The step durations not yet counted in D1, by the finish they belong to. */
  pendingStepDurations(): { run_id: string; finished_at: string; seconds: number[] }[] {
    return this.#all<{ run_id: string; finished_at: string; seconds: string }>(
      `SELECT run_id, finished_at, json_group_array(seconds) AS seconds FROM step_durations
       GROUP BY run_id, finished_at ORDER BY run_id, finished_at`,
    ).map((row) => ({ ...row, seconds: parseJsonColumn(SecondsList, row.seconds, "step_durations.seconds") }));
  }

  /** D1 has counted these finishes' steps. */
  deleteStepDurations(finishes: readonly { run_id: string; finished_at: string }[]): void {
    this.#run(
      `DELETE FROM step_durations WHERE (run_id, finished_at) IN
         (SELECT json_extract(value, '$.run_id'), json_extract(value, '$.finished_at') FROM json_each(?))`,
      JSON.stringify(finishes.map(({ run_id, finished_at }) => ({ run_id, finished_at }))),
    );
  }

  /** A finished run's status set anew (a step's status was set by hand): its D1 copy follows. */
  setFinishedStatus(id: string, status: FinalStatus, at: string): void {
    this.#run("UPDATE runs SET status = ?, updated_at = ? WHERE id = ?", RUN_STATUS[status], at, id);
  }

  /** Queues a finished run again, for all its unfinished steps or (`onlyStep`) one step. */
  requeueRun(id: string, onlyStep: string | null, at: string): void {
    this.#run(
      `UPDATE runs SET status = ?, outcome = NULL, handlers = '[]', error = NULL, only_step = ?, finished_at = NULL,
         queued_at = ?, updated_at = ?, parent_told = 0
       WHERE id = ?`,
      RUN_STATUS.queued,
      onlyStep,
      at,
      at,
      id,
    );
  }

  /** Deletes finished runs older than `cutoff` with everything they own; returns how many. */
  deleteRunsFinishedBefore(cutoff: string): number {
    const old = this.#all<{ id: string }>("SELECT id FROM runs WHERE finished_at < ?", cutoff).map((row) => row.id);
    if (old.length === 0) return 0;
    const ids = JSON.stringify(old);
    for (const table of ["nodes", "run_log", "timers", "outbox", "sub_runs", "step_durations"]) {
      this.#run(`DELETE FROM ${table} WHERE run_id IN (SELECT value FROM json_each(?))`, ids);
    }
    this.#run("DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))", ids);
    return old.length;
  }

  // --- nodes ---------------------------------------------------------------------------------

  node(runId: string, name: string): NodeRecord | undefined {
    return this.#first<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? AND name = ?", runId, name);
  }

  /** Steps in order, then handlers in the order they ran. */
  nodes(runId: string): NodeRecord[] {
    return this.#all<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? ORDER BY kind = 'step' DESC, position", runId);
  }

  stepNodes(runId: string): NodeRecord[] {
    return this.#memo(`steps\n${runId}`, () =>
      this.#all<NodeRecord>("SELECT * FROM nodes WHERE run_id = ? AND kind = 'step'", runId),
    ).map((node) => ({ ...node }));
  }

  /** Nodes (steps only, or steps and handlers) in a status. */
  nodesIn(runId: string, status: NodeStatus, stepsOnly = false): NodeRecord[] {
    return this.#all<NodeRecord>(
      `SELECT * FROM nodes WHERE run_id = ? AND status = ?${stepsOnly ? " AND kind = 'step'" : ""} ORDER BY position`,
      runId,
      NODE_STATUS[status],
    );
  }

  hasHandlerIn(runId: string, status: NodeStatus): boolean {
    return (
      this.#first(
        "SELECT 1 AS found FROM nodes WHERE run_id = ? AND kind <> 'step' AND status = ?",
        runId,
        NODE_STATUS[status],
      ) !== undefined
    );
  }

  /** The `output` values of finished steps, in step order. */
  outputs(runId: string): { name: string; output: string }[] {
    return this.#all("SELECT name, output FROM nodes WHERE run_id = ? AND output IS NOT NULL ORDER BY position", runId);
  }

  /** The DAG's previous finished run (its own, not a sub-DAG run), when it failed: its id. */
  previousRunFailed(runId: string): string | undefined {
    const previous = this.#first<{ id: string; status: number }>(
      `SELECT id, status FROM runs WHERE finished_at IS NOT NULL AND parent IS NULL AND id <> ?
       ORDER BY finished_at DESC LIMIT 1`,
      runId,
    );
    return previous?.status === RUN_STATUS.failed ? previous.id : undefined;
  }

  /** The error of the first failed node, for the run-finished event. */
  firstFailure(runId: string): string | undefined {
    return this.firstFailedNode(runId)?.error ?? undefined;
  }

  /** The first failed node (steps in order, then handlers) that says why: what an alert reports. */
  firstFailedNode(runId: string): Pick<NodeRecord, "name" | "error" | "stdout" | "stderr"> | undefined {
    return this.#first(
      `SELECT name, error, stdout, stderr FROM nodes WHERE run_id = ? AND status = ? AND error IS NOT NULL
       ORDER BY kind = 'step' DESC, position LIMIT 1`,
      runId,
      NODE_STATUS.failed,
    );
  }

  insertHandlerNode(runId: string, name: string, kind: HandlerEvent, position: number): void {
    this.#run(
      "INSERT OR REPLACE INTO nodes (run_id, name, kind, position, status) VALUES (?, ?, ?, ?, ?)",
      runId,
      name,
      kind,
      position,
      NODE_STATUS.not_started,
    );
  }

  setAttemptState(runId: string, name: string, state: AttemptState): void {
    this.#run("UPDATE nodes SET attempt_state = ? WHERE run_id = ? AND name = ?", state, runId, name);
  }

  /** A new holder takes the attempt: claimed, its token raised (fencing out any earlier holder). */
  claimAttempt(runId: string, name: string): number {
    return this.#first<{ claim: number }>(
      `UPDATE nodes SET attempt_state = 'claimed', claim = claim + 1, silences = 0 WHERE run_id = ? AND name = ?
       RETURNING claim`,
      runId,
      name,
    )!.claim;
  }

  /** A sign of life from the holder: the silences count starts again, and a takeover resumes from here. */
  recordSignOfLife(runId: string, name: string, resumeFrom: string | null): void {
    this.#run(
      "UPDATE nodes SET silences = 0, resume_from = COALESCE(?, resume_from) WHERE run_id = ? AND name = ?",
      resumeFrom,
      runId,
      name,
    );
  }

  /** The executor was found silent once more; returns how many times in a row. */
  recordSilence(runId: string, name: string): number {
    return this.#first<{ silences: number }>(
      "UPDATE nodes SET silences = silences + 1 WHERE run_id = ? AND name = ? RETURNING silences",
      runId,
      name,
    )!.silences;
  }

  setLogs(runId: string, name: string, stdout: string, stderr: string): void {
    this.#run("UPDATE nodes SET stdout = ?, stderr = ? WHERE run_id = ? AND name = ?", stdout, stderr, runId, name);
  }

  /** The next attempt is on its way to an executor. */
  markDispatched(runId: string, name: string, attempt: number, at: string): void {
    this.#run(
      `UPDATE nodes SET status = ?, attempt = ?, attempt_state = 'dispatched', started_at = COALESCE(started_at, ?),
         resume_from = NULL, silences = 0
       WHERE run_id = ? AND name = ?`,
      NODE_STATUS.running,
      attempt,
      at,
      runId,
      name,
    );
  }

  /** A step's status set by hand: only the status changes (its times, exit code, error and logs stay, as in Dagu). */
  setNodeStatus(runId: string, name: string, status: NodeStatus): void {
    this.#run("UPDATE nodes SET status = ? WHERE run_id = ? AND name = ?", NODE_STATUS[status], runId, name);
  }

  /** Ends a node without running it (or any further): skipped, blocked, or failed before it ran. */
  settleNode(runId: string, name: string, status: NodeStatus, at: string, error: string | null = null): void {
    this.#run(
      "UPDATE nodes SET status = ?, finished_at = ?, attempt_state = 'done', error = ? WHERE run_id = ? AND name = ?",
      NODE_STATUS[status],
      at,
      error,
      runId,
      name,
    );
  }

  /** A failed attempt that will be retried: the node stays running, waiting for its retry timer. */
  recordRetryWait(
    runId: string,
    name: string,
    wait: { retryCount: number; exitCode: number; error: string; stdout: string; stderr: string },
  ): void {
    this.#run(
      `UPDATE nodes SET attempt_state = 'waiting_retry', retry_count = ?, exit_code = ?, error = ?, stdout = ?, stderr = ?
       WHERE run_id = ? AND name = ?`,
      wait.retryCount,
      wait.exitCode,
      wait.error,
      wait.stdout,
      wait.stderr,
      runId,
      name,
    );
  }

  /** A repeating step's run ended and it runs again (after its interval): counted, its stdout kept. */
  recordRepeatWait(
    runId: string,
    name: string,
    wait: { repeatCount: number; repeatStdout: string; output: string | null },
  ): void {
    this.#run(
      `UPDATE nodes SET attempt_state = 'waiting_retry', retry_count = 0, repeat_count = ?, repeat_stdout = ?, output = ?,
         stdout = ?
       WHERE run_id = ? AND name = ?`,
      wait.repeatCount,
      wait.repeatStdout,
      wait.output,
      wait.repeatStdout,
      runId,
      name,
    );
  }

  recordResult(runId: string, name: string, result: NodeResult): void {
    this.#run(
      `UPDATE nodes SET status = ?, attempt_state = 'done', finished_at = ?, exit_code = ?, error = ?, output = ?,
         stdout = ?, stderr = ?
       WHERE run_id = ? AND name = ?`,
      NODE_STATUS[result.status],
      result.finishedAt,
      result.exitCode,
      result.error,
      result.output,
      result.stdout,
      result.stderr,
      runId,
      name,
    );
  }

  /**
   * Aborts the nodes in `from` statuses (steps only, or all): as in Dagu, what was running is
   * aborted; `reason` is kept when a node already has an error unless `overwriteError`.
   */
  abortNodes(
    runId: string,
    options: { from: readonly NodeStatus[]; stepsOnly: boolean; at: string; reason: string; overwriteError: boolean },
  ): void {
    const statuses = JSON.stringify(options.from.map((status) => NODE_STATUS[status]));
    this.#run(
      `UPDATE nodes SET status = ?, attempt_state = 'done', finished_at = ?,
         error = ${options.overwriteError ? "?" : "COALESCE(error, ?)"}
       WHERE run_id = ? AND status IN (SELECT value FROM json_each(?))${options.stepsOnly ? " AND kind = 'step'" : ""}`,
      NODE_STATUS.aborted,
      options.at,
      options.reason,
      runId,
      statuses,
    );
  }

  /**
   * Prepares a retry: with `stepName` that step, otherwise every step that did not succeed,
   * goes back to not_started; handler nodes go (they run again).
   */
  resetForRetry(runId: string, stepName: string | null): void {
    this.#run(
      `UPDATE nodes SET status = ?, attempt_state = 'none', retry_count = 0, repeat_count = 0, repeat_stdout = '',
         started_at = NULL, finished_at = NULL, exit_code = NULL, error = NULL, output = NULL, stdout = '', stderr = ''
       WHERE run_id = ? AND kind = 'step' AND (name = ? OR (? IS NULL AND status <> ?))`,
      NODE_STATUS.not_started,
      runId,
      stepName,
      stepName,
      NODE_STATUS.succeeded,
    );
    this.#run("DELETE FROM nodes WHERE run_id = ? AND kind <> 'step'", runId);
  }

  // --- sub-DAG runs a calling step started --------------------------------------------------

  insertSubRun(
    row: Omit<
      SubRunRecord,
      "child_key" | "status" | "child_params" | "outputs" | "error" | "started_at" | "finished_at"
    >,
  ): void {
    this.#run(
      `INSERT INTO sub_runs (run_id, step, attempt, item, dag, params, child_run_id, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      row.run_id,
      row.step,
      row.attempt,
      row.item,
      row.dag,
      row.params,
      row.child_run_id,
      row.state,
    );
  }

  /** A finished sub-DAG run's status changed (a step of it was set by hand): its calling step's record follows. */
  setSubRunStatus(childRunId: string, status: string): void {
    this.#run("UPDATE sub_runs SET status = ? WHERE child_run_id = ? AND state = 'finished'", status, childRunId);
  }

  /** The runs of one attempt of a calling step, in item order. */
  subRuns(runId: string, step: string, attempt: number): SubRunRecord[] {
    return this.#all(
      "SELECT * FROM sub_runs WHERE run_id = ? AND step = ? AND attempt = ? ORDER BY item",
      runId,
      step,
      attempt,
    );
  }

  /** Every run a step of this run called, over all attempts, by step and attempt. */
  subRunsOfRun(runId: string): SubRunRecord[] {
    return this.#all("SELECT * FROM sub_runs WHERE run_id = ? ORDER BY step, attempt, item", runId);
  }

  subRunByChild(childRunId: string): SubRunRecord | undefined {
    return this.#first("SELECT * FROM sub_runs WHERE child_run_id = ?", childRunId);
  }

  subRunsIn(state: SubRunRecord["state"]): SubRunRecord[] {
    return this.#all("SELECT * FROM sub_runs WHERE state = ? ORDER BY run_id, step, item", state);
  }

  /** How many of an attempt's runs are in each state (a fan-out of 1,000 is counted, not read, on each end). */
  subRunStates(runId: string, step: string, attempt: number): Record<SubRunRecord["state"], number> {
    const counts = { waiting: 0, starting: 0, running: 0, finished: 0 };
    for (const row of this.#all<{ state: SubRunRecord["state"]; n: number }>(
      "SELECT state, COUNT(*) AS n FROM sub_runs WHERE run_id = ? AND step = ? AND attempt = ? GROUP BY state",
      runId,
      step,
      attempt,
    ))
      counts[row.state] = row.n;
    return counts;
  }

  /** Moves up to `count` waiting runs of an attempt to starting, in item order. */
  promoteWaitingSubRuns(runId: string, step: string, attempt: number, count: number): void {
    this.#run(
      `UPDATE sub_runs SET state = 'starting'
       WHERE rowid IN (SELECT rowid FROM sub_runs WHERE run_id = ? AND step = ? AND attempt = ? AND state = 'waiting'
                       ORDER BY item LIMIT ?)`,
      runId,
      step,
      attempt,
      count,
    );
  }

  markSubRunStarted(childRunId: string, childKey: string, at: string): void {
    this.#run(
      "UPDATE sub_runs SET state = 'running', child_key = ?, started_at = ? WHERE child_run_id = ? AND state = 'starting'",
      childKey,
      at,
      childRunId,
    );
  }

  finishSubRun(
    childRunId: string,
    result: {
      status: string;
      params?: string | undefined;
      outputs: Record<string, string>;
      error: string | null;
      at: string;
    },
  ): void {
    this.#run(
      `UPDATE sub_runs SET state = 'finished', status = ?, child_params = ?, outputs = ?, error = ?, finished_at = ?
       WHERE child_run_id = ? AND state <> 'finished'`,
      result.status,
      result.params ?? null,
      JSON.stringify(result.outputs),
      result.error,
      result.at,
      childRunId,
    );
  }

  // --- timers --------------------------------------------------------------------------------

  setTimer(kind: TimerKind, runId: string, step: string, attempt: number, dueMs: number): void {
    this.#run(
      "INSERT OR REPLACE INTO timers (kind, run_id, step, attempt, due_ms) VALUES (?, ?, ?, ?, ?)",
      kind,
      runId,
      step,
      attempt,
      dueMs,
    );
  }

  deleteTimer(kind: TimerKind, runId: string, step: string): void {
    this.#run("DELETE FROM timers WHERE kind = ? AND run_id = ? AND step = ?", kind, runId, step);
  }

  /** Deletes a run's timers of these kinds. */
  deleteTimers(runId: string, kinds: readonly TimerKind[]): void {
    this.#run(
      "DELETE FROM timers WHERE run_id = ? AND kind IN (SELECT value FROM json_each(?))",
      runId,
      JSON.stringify(kinds),
    );
  }

  dueTimers(nowMs: number): Timer[] {
    return this.#all("SELECT kind, run_id, step, attempt FROM timers WHERE due_ms <= ? ORDER BY due_ms", nowMs);
  }

  earliestTimer(): number | undefined {
    return this.#first<{ due: number | null }>("SELECT MIN(due_ms) AS due FROM timers")?.due ?? undefined;
  }

  // --- the run log ---------------------------------------------------------------------------

  appendLog(runId: string, line: string): void {
    // One statement: an aggregate without GROUP BY always yields its one row, the next seq.
    this.#run(
      "INSERT INTO run_log (run_id, seq, line) SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2 FROM run_log WHERE run_id = ?1",
      runId,
      line,
    );
  }

  logLines(runId: string): string[] {
    return this.#all<{ line: string }>("SELECT line FROM run_log WHERE run_id = ? ORDER BY seq", runId).map(
      (row) => row.line,
    );
  }

  // --- the outbox ----------------------------------------------------------------------------

  addEvent(event: RunFinishedEvent): void {
    this.#run("INSERT INTO outbox (kind, run_id, body) VALUES ('event', ?, ?)", event.runId, JSON.stringify(event));
  }

  hasPendingEvents(): boolean {
    return this.#first("SELECT 1 AS pending FROM outbox LIMIT 1") !== undefined;
  }

  pendingEvents(): { id: number; event: RunFinishedEvent }[] {
    return this.#all<{ id: number; body: string }>("SELECT id, body FROM outbox WHERE kind = 'event' ORDER BY id").map(
      // Written only by addEvent, by this same code: its shape is RunFinishedEvent's.
      (row) => ({ id: row.id, event: JSON.parse(row.body) as RunFinishedEvent }),
    );
  }

  deleteEvent(id: number): void {
    this.#run("DELETE FROM outbox WHERE id = ?", id);
  }

  eventFailed(id: number, error: string): void {
    this.#run("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", error, id);
  }

  // --- plumbing ------------------------------------------------------------------------------

  /**
   * A read kept for the rest of this synchronous stretch: one RPC asks for the same run and its
   * steps many times (a step's finish read its run 8 times), and each read is a round through the
   * storage API on every trigger's and step's path. Callers get copies (a run is converted anew).
   * Any write through this store, and the next microtask (another request may have written
   * meanwhile), forget them all.
   */
  #memo<T>(key: string, read: () => T): T {
    if (this.#reads.has(key)) return this.#reads.get(key) as T;
    const value = read();
    this.#reads.set(key, value);
    if (!this.#forgetting) {
      this.#forgetting = true;
      queueMicrotask(() => {
        this.#reads.clear();
        this.#forgetting = false;
      });
    }
    return value;
  }

  #all<T>(query: string, ...bindings: SqlStorageValue[]): T[] {
    if (!query.trimStart().startsWith("SELECT")) this.#reads.clear();
    try {
      return this.#sql.exec(query, ...bindings).toArray() as T[];
    } catch (error) {
      // The query names the failing statement; the bindings may hold payloads, so they stay out.
      throw new Error(`${error instanceof Error ? error.message : String(error)} in: ${query.trim().slice(0, 120)}`);
    }
  }

  #first<T>(query: string, ...bindings: SqlStorageValue[]): T | undefined {
    return this.#all<T>(query, ...bindings)[0];
  }

  #run(query: string, ...bindings: SqlStorageValue[]): void {
    this.#all(query, ...bindings);
  }

  #tableExists(name: string): boolean {
    return this.#first("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", name) !== undefined;
  }
}
