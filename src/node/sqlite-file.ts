import { rename } from 'node:fs/promises'
import { DatabaseSync } from 'node:sqlite'

/** SQLite's primary result codes for a file that is not a usable database (https://sqlite.org/rescode.html). */
const SQLITE_CORRUPT = 11
const SQLITE_NOTADB = 26

/** node:sqlite's error's primary result code (its extended code's low byte), if it is one. */
export function sqliteResultCode (err: unknown): number | undefined {
  const code = (err as { errcode?: number }).errcode
  return typeof code === 'number' ? code & 0xff : undefined
}

/** Whether SQLite refused the file as no usable database (damaged, truncated, another program's). */
export function notADatabase (err: unknown): boolean {
  const code = sqliteResultCode(err)
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB
}

/** A database of another schema than this s3mesh's: treated as damaged. */
class SchemaMismatch extends Error {
  override name = 'SchemaMismatch'
}

function damaged (err: unknown): boolean {
  return err instanceof SchemaMismatch || notADatabase(err)
}

export interface SqliteFileOptions {
  /**
   * SQLite's synchronous setting (WAL mode): FULL, a commit is on disk when it
   * returns; NORMAL, a commit survives the process crashing but a power cut
   * may lose the latest ones (the file stays consistent), and no commit waits
   * on the disk; OFF only for throwaway data.
   */
  synchronous: 'FULL' | 'NORMAL' | 'OFF'
  /** Bumped when the tables change: a file of an older schema is upgraded in place when `upgrades` can, else (or of a newer one) moved aside. */
  schema: number
  /** The tables, made when the file is new (with an `info (name, value)` table of its own for the schema). */
  tables: string
  /**
   * SQL that takes a file of schema N (the key) to N + 1, for data that
   * cannot simply be made again (a catalog moved aside would forget
   * deletes). Each step runs in one transaction with the schema's new
   * number: a crash leaves the file at one schema or the next.
   */
  upgrades?: Record<number, string>
}

/**
 * Opens a database file of s3mesh's (WAL), creating its tables if the file is
 * new and upgrading an older schema in place when `upgrades` says how. A
 * file that is not a usable database (damaged, truncated, another program's)
 * or of another schema is moved aside to `<path>.damaged-<time>` and a new
 * one made: `created` tells the caller to fill it again.
 */
export async function openSqliteFile (path: string, options: SqliteFileOptions): Promise<{ db: DatabaseSync, created: boolean }> {
  try {
    return openAs(path, options)
  } catch (err) {
    if (!damaged(err)) throw err
    const aside = `${path}.damaged-${Date.now()}`
    for (const suffix of ['', '-wal', '-shm']) await rename(path + suffix, aside + suffix).catch(() => {})
    return openAs(path, options)
  }
}

function openAs (path: string, options: SqliteFileOptions): { db: DatabaseSync, created: boolean } {
  const db = new DatabaseSync(path)
  try {
    // Exclusive: one process owns the file (the data folder's lock says so), so no read or commit takes a file lock
    // of its own, and the WAL's index lives in memory, not in a shared -shm file. That halves a lookup's cost and
    // takes a third off a small commit's; a process killed leaves no lock behind (the kernel drops it).
    db.exec(`PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous};`)
    // Reading the schema touches the file's header and first page: a damaged file fails here, not mid-request.
    const created = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n === 0
    if (created) {
      db.exec(`${options.tables}
        CREATE TABLE info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO info (name, value) VALUES ('schema', '${options.schema}');`)
    } else {
      const schema = db.prepare("SELECT value FROM info WHERE name = 'schema'").get() as { value: string } | undefined
      let at = Number(schema?.value)
      while (at < options.schema && options.upgrades?.[at] !== undefined) {
        db.exec('BEGIN')
        try {
          db.exec(options.upgrades[at]!)
          db.prepare("UPDATE info SET value = ? WHERE name = 'schema'").run(String(at + 1))
          db.exec('COMMIT')
        } catch (err) {
          // SQLite may have rolled back already: the upgrade's own error is the one to tell.
          try { db.exec('ROLLBACK') } catch { /* not open any more */ }
          throw err
        }
        at++
      }
      if (at !== options.schema) throw new SchemaMismatch(`schema ${schema?.value ?? 'unknown'}, expected ${options.schema}`)
    }
    return { db, created }
  } catch (err) {
    db.close()
    throw err
  }
}
