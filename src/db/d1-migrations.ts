/**
 * Wrangler's record of applied D1 migrations, read and written exactly as `wrangler d1 migrations
 * apply` does (the same table, columns and statements: wrangler's src/d1/migrations/helpers.ts),
 * so that `npm run dev` (src/dev/setup.ts) and wrangler's commands stay interchangeable on one
 * local database. The table is `d1_migrations` unless wrangler.toml names another
 * (`migrations_table`).
 */

/** SQLite's quoting of an identifier, as wrangler quotes the table's name. */
const quoted = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

export async function ensureMigrationsTable(db: D1Database, table: string): Promise<void> {
  await db
    .prepare(
      `CREATE TABLE IF NOT EXISTS ${quoted(table)}(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);`,
    )
    .run();
}

export async function listAppliedMigrations(db: D1Database, table: string): Promise<string[]> {
  const { results } = await db.prepare(`SELECT name FROM ${quoted(table)} ORDER BY id`).all<{ name: string }>();
  return results.map((row) => row.name);
}

/**
 * One migration file as one batch (a transaction): its statements, the last of which records it
 * in the table (wrangler appends `INSERT INTO <table> (name) values ('<file>');` to the file's SQL
 * and splits the whole into statements). A failure rolls the file back and throws.
 */
export async function applyMigration(db: D1Database, statements: readonly string[]): Promise<void> {
  await db.batch(statements.map((statement) => db.prepare(statement)));
}
