import { closeSync, fsyncSync, openSync } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { isLiveObject, slotOf, type CatalogEntry } from '../core/mesh/catalog-entry.js'
import type { CatalogStore } from '../core/mesh/catalog-store.js'
import type { BucketState, CatalogTable, SlotRow } from '../core/mesh/catalog-table.js'
import { CatalogJournal } from './catalog-journal.js'
import { openSqliteFile } from './sqlite-file.js'

/** Bumped when the tables change; an older schema is upgraded in place (UPGRADES), another moved aside and the catalog comes back from the mesh. */
const SCHEMA = 2

/**
 * One row per slot of a key (catalog-entry.ts): `slot` is its version id,
 * `''` for the `null` slot; `head` flags the key's current version, `obj` a
 * slot holding an object (not a tombstone or a delete marker), so a listing
 * reads only rows with both, and `kept` a slot that is not a tombstone, so a
 * listing of versions reads past keys that only have tombstones without
 * parsing them.
 */
const OBJECTS_TABLE = `
  CREATE TABLE catalog_objects (bucket TEXT NOT NULL, key TEXT NOT NULL, slot TEXT NOT NULL, range INTEGER NOT NULL, head INTEGER NOT NULL, obj INTEGER NOT NULL, kept INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (bucket, key, slot)) WITHOUT ROWID;
  CREATE INDEX catalog_ranges ON catalog_objects (bucket, range, key);`

const UPGRADES: Record<number, string> = {
  // Schema 1 kept one entry per key: each becomes its key's null slot and head, and a bucket's versions are its live objects.
  1: `
    ALTER TABLE catalog_objects RENAME TO catalog_objects_1;
    DROP INDEX catalog_ranges;
    ${OBJECTS_TABLE}
    INSERT INTO catalog_objects (bucket, key, slot, range, head, obj, kept, entry) SELECT bucket, key, '', range, 1, 1 - deleted, 1 - deleted, entry FROM catalog_objects_1;
    DROP TABLE catalog_objects_1;
    UPDATE catalog_buckets SET state = json_set(state, '$.versions', json_extract(state, '$.live'), '$.versionBytes', json_extract(state, '$.bytes')) WHERE json_extract(state, '$.bytes') IS NOT NULL;`,
}
/** Rows read per query when walking a bucket: no statement stays open across the caller's awaits. */
const CHUNK = 512

/**
 * The mesh catalog on a Node node, in SQLite (`.s3mesh/catalog.db`): object
 * entries stay on disk, and only each bucket's small state (its entry, live
 * count and range digests) is in memory. A restart reads nothing per entry.
 *
 * Writes go into a transaction that is committed once per turn of the event
 * loop (the catalog merges synchronously, often a thousand entries at a time)
 * or at once when a durable flush is asked for (before a delete is
 * acknowledged). Commits run at synchronous=NORMAL: they survive the process
 * dying, but only a durable commit waits for the disk (it fsyncs the WAL,
 * which holds every commit since the last checkpoint, and a checkpoint syncs
 * what it moves). The catalog asks no more of its store: an entry lost to a
 * power cut comes back from the bucket's other owners by anti-entropy, and
 * this member's own copies from its folder's adoption. Waiting for the disk
 * at every commit cost a replicated PUT about a millisecond of the event loop
 * on each member that heard of it.
 */
export class SqliteCatalogTable implements CatalogTable {
  private readonly s: Record<'get' | 'slots' | 'set' | 'setHead' | 'del' | 'pageFrom' | 'pageAfter' | 'keysFrom' | 'keysAfter' | 'chunkFrom' | 'chunkAfter' | 'range' | 'bucketSet' | 'buckets', StatementSync>
  private commitScheduled = false
  // Kept here, not read from DatabaseSync: its isOpen and isTransaction arrived in Node 22.15 and 22.16.
  private inTransaction = false
  private closed = false
  /** Bucket states changed since the last commit. */
  private readonly dirty = new Map<string, BucketState>()
  /** Set by the Catalog: after a failed commit, the buckets whose rows were rolled back and whose state it must recount. */
  onRolledBack: (buckets: string[]) => void = () => {}
  /** A commit that failed (a full disk), for the log. */
  onCommitError: (err: unknown) => void = () => {}
  /** Commits made since the WAL was last synced. */
  private unsynced = false

  /** @param walPath the database's write-ahead log, fsynced by a durable commit (none: commits are left to SQLite's setting) */
  constructor (private readonly db: DatabaseSync, private readonly walPath?: string) {
    const p = (sql: string): StatementSync => db.prepare(sql)
    this.s = {
      get: p('SELECT entry FROM catalog_objects WHERE bucket = ? AND key = ? AND head = 1'),
      slots: p('SELECT head, entry FROM catalog_objects WHERE bucket = ? AND key = ? ORDER BY slot'),
      // Upserts, not INSERT OR REPLACE: a replace deletes the row and inserts it again, rewriting its index entries (and,
      // in catalog_buckets, a rowid table, its key index) where nothing indexed changed; an update leaves those pages
      // alone, so a commit writes fewer pages to the log.
      set: p('INSERT INTO catalog_objects (bucket, key, slot, range, head, obj, kept, entry) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, key, slot) DO UPDATE SET range = excluded.range, head = excluded.head, obj = excluded.obj, kept = excluded.kept, entry = excluded.entry'),
      setHead: p('UPDATE catalog_objects SET head = ? WHERE bucket = ? AND key = ? AND slot = ?'),
      del: p('DELETE FROM catalog_objects WHERE bucket = ? AND key = ? AND slot = ?'),
      pageFrom: p('SELECT key, entry FROM catalog_objects WHERE bucket = ? AND key >= ? AND head = 1 AND obj = 1 ORDER BY key LIMIT ?'),
      pageAfter: p('SELECT key, entry FROM catalog_objects WHERE bucket = ? AND key > ? AND head = 1 AND obj = 1 ORDER BY key LIMIT ?'),
      keysFrom: p('SELECT DISTINCT key FROM catalog_objects WHERE bucket = ? AND key >= ? AND kept = 1 ORDER BY key LIMIT ?'),
      keysAfter: p('SELECT DISTINCT key FROM catalog_objects WHERE bucket = ? AND key > ? AND kept = 1 ORDER BY key LIMIT ?'),
      chunkFrom: p('SELECT key, slot, entry FROM catalog_objects WHERE bucket = ? ORDER BY key, slot LIMIT ?'),
      chunkAfter: p('SELECT key, slot, entry FROM catalog_objects WHERE bucket = ? AND (key, slot) > (?, ?) ORDER BY key, slot LIMIT ?'),
      range: p('SELECT entry FROM catalog_objects WHERE bucket = ? AND range = ? ORDER BY key, slot'),
      bucketSet: p('INSERT INTO catalog_buckets (name, state) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET state = excluded.state'),
      buckets: p('SELECT name, state FROM catalog_buckets'),
    }
  }

  loadBuckets (): Map<string, BucketState> {
    const out = new Map<string, BucketState>()
    for (const row of this.s.buckets.all() as Array<{ name: string, state: string }>) out.set(row.name, JSON.parse(row.state) as BucketState)
    return out
  }

  saveBucket (bucket: string, state: BucketState): void {
    // Written once per commit, not once per entry: a thousand merges into one bucket write its state once.
    this.writing()
    this.dirty.set(bucket, state)
  }

  get (bucket: string, key: string): CatalogEntry | undefined {
    const row = this.s.get.get(bucket, key) as { entry: string } | undefined
    return row === undefined ? undefined : JSON.parse(row.entry) as CatalogEntry
  }

  slots (bucket: string, key: string): SlotRow[] {
    return (this.s.slots.all(bucket, key) as Array<{ head: number, entry: string }>).map(r => ({ entry: JSON.parse(r.entry) as CatalogEntry, head: r.head === 1 }))
  }

  set (bucket: string, key: string, range: number, entry: CatalogEntry, head: boolean): void {
    this.run(bucket, this.s.set, bucket, key, slotOf(entry), range, head ? 1 : 0, isLiveObject(entry) ? 1 : 0, entry.deleted ? 0 : 1, JSON.stringify(entry))
  }

  setHead (bucket: string, key: string, slot: string, head: boolean): void {
    this.run(bucket, this.s.setHead, head ? 1 : 0, bucket, key, slot)
  }

  delete (bucket: string, key: string, slot: string): void {
    this.run(bucket, this.s.del, bucket, key, slot)
  }

  /**
   * Runs a write in the open transaction. A write that fails (a full disk)
   * may leave SQLite's transaction rolled back, or half a slot change (its
   * row written, its key's old head not unflagged): the whole transaction is
   * rolled back, and the catalog recounts what it touched from the rows of
   * the last commit, whose heads agree with their slots.
   */
  private run (bucket: string, statement: StatementSync, ...args: Array<string | number>): void {
    this.writing()
    try {
      statement.run(...args)
    } catch (err) {
      const touched = new Set([...this.dirty.keys(), bucket])
      try { this.db.exec('ROLLBACK') } catch { /* not open any more */ }
      this.inTransaction = false
      this.dirty.clear()
      this.onCommitError(err)
      this.onRolledBack([...touched])
      throw err
    }
  }

  livePage (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { entries: CatalogEntry[], isTruncated: boolean } {
    const prefix = options.prefix ?? ''
    const after = options.startAfter !== undefined && Buffer.compare(Buffer.from(options.startAfter), Buffer.from(prefix)) >= 0 ? options.startAfter : undefined
    const rows = (after === undefined ? this.s.pageFrom.all(bucket, prefix, options.limit + 1) : this.s.pageAfter.all(bucket, after, options.limit + 1)) as Array<{ key: string, entry: string }>
    const entries: CatalogEntry[] = []
    for (const row of rows) {
      if (!row.key.startsWith(prefix)) return { entries, isTruncated: false }
      if (entries.length === options.limit) return { entries, isTruncated: true }
      entries.push(JSON.parse(row.entry) as CatalogEntry)
    }
    return { entries, isTruncated: false }
  }

  keys (bucket: string, options: { prefix?: string, from: string, inclusive: boolean, limit: number }): string[] {
    const prefix = options.prefix ?? ''
    const rows = (options.inclusive ? this.s.keysFrom : this.s.keysAfter).all(bucket, options.from, options.limit) as Array<{ key: string }>
    const out: string[] = []
    for (const { key } of rows) {
      if (!key.startsWith(prefix)) break
      out.push(key)
    }
    return out
  }

  * values (bucket: string): IterableIterator<CatalogEntry> {
    let after: { key: string, slot: string } | undefined
    for (;;) {
      const rows = (after === undefined ? this.s.chunkFrom.all(bucket, CHUNK) : this.s.chunkAfter.all(bucket, after.key, after.slot, CHUNK)) as Array<{ key: string, slot: string, entry: string }>
      for (const row of rows) yield JSON.parse(row.entry) as CatalogEntry
      if (rows.length < CHUNK) return
      after = rows.at(-1)!
    }
  }

  rangeValues (bucket: string, range: number): CatalogEntry[] {
    return (this.s.range.all(bucket, range) as Array<{ entry: string }>).map(r => JSON.parse(r.entry) as CatalogEntry)
  }

  /**
   * Commits what was written; with `durable`, it and every earlier commit are
   * on disk when this returns. A failed commit is rolled back whole; the
   * catalog recounts the buckets it touched from the rows left (its digests
   * then say what is on disk, and anti-entropy brings the lost entries back),
   * and the error is thrown.
   */
  commit (durable = false): void {
    if (this.closed) return
    const touched = [...this.dirty.keys()]
    try {
      if (this.inTransaction) {
        for (const [bucket, state] of this.dirty) this.s.bucketSet.run(bucket, JSON.stringify(state))
        this.db.exec('COMMIT')
        this.inTransaction = false
        this.dirty.clear()
        this.unsynced = true
      }
      if (durable && this.unsynced && this.walPath !== undefined) {
        syncFile(this.walPath)
        this.unsynced = false
      }
    } catch (err) {
      try { this.db.exec('ROLLBACK') } catch { /* not open any more */ }
      this.inTransaction = false
      this.dirty.clear()
      this.onCommitError(err)
      this.onRolledBack(touched)
      throw err
    }
  }

  /** Commits durably, then closes. */
  close (): void {
    if (this.closed) return
    try { this.commit(true) } finally {
      this.closed = true
      this.db.close()
    }
  }

  /** Runs a write of the caller's in the open transaction (the journal's import mark). */
  write (op: () => void): void {
    this.writing()
    op()
  }

  private writing (): void {
    if (this.closed) throw new Error('The catalog database is closed (the node is stopping).')
    if (!this.inTransaction) {
      this.db.exec('BEGIN')
      this.inTransaction = true
    }
    if (this.commitScheduled) return
    this.commitScheduled = true
    setImmediate(() => {
      this.commitScheduled = false
      try { this.commit() } catch { /* told through onCommitError; a durable flush throws to its caller */ }
    })
  }
}

/**
 * A Node node's CatalogStore: the catalog itself lives in the table (see
 * SqliteCatalogTable), so there is nothing to replay at start. A node that
 * kept the catalog in a journal (catalog-journal.ts) before has it imported
 * once: `load` returns the journal's entries while the table is new, and the
 * journal is removed once they are committed.
 */
export class CatalogDb implements CatalogStore {
  readonly table: SqliteCatalogTable
  /** Whether a journal's entries were committed here (in the same transaction as this mark). */
  private imported: boolean
  private readonly markImported: StatementSync
  private readonly markChecked: StatementSync
  readonly checkedInSession: string | undefined
  private journal: string | undefined

  private constructor (db: DatabaseSync, readonly fresh: boolean, private readonly journalPath: string, walPath: string | undefined) {
    this.table = new SqliteCatalogTable(db, walPath)
    this.imported = db.prepare("SELECT value FROM info WHERE name = 'journal-imported'").get() !== undefined
    // Read once, then cleared at once: a crash from here on leaves it unset.
    this.checkedInSession = (db.prepare("SELECT value FROM info WHERE name = 'checked-in-session'").get() as { value: string } | undefined)?.value
    if (this.checkedInSession !== undefined) db.prepare("DELETE FROM info WHERE name = 'checked-in-session'").run()
    this.markChecked = db.prepare("INSERT OR REPLACE INTO info (name, value) VALUES ('checked-in-session', ?)")
    this.markImported = db.prepare("INSERT OR REPLACE INTO info (name, value) VALUES ('journal-imported', '1')")
    this.table.onCommitError = err => { process.stderr.write(`s3mesh: the catalog database could not commit (${err instanceof Error ? err.message : String(err)}); the mesh's anti-entropy brings the entries back\n`) }
  }

  /**
   * Opens `path`, creating it if missing; a file that is not a usable
   * database of this schema is moved aside (`<path>.damaged-<time>`) and a new
   * one made: the mesh's anti-entropy fills it again, as for a new member.
   */
  static async open (path: string, journalPath: string, options: { sync?: boolean } = {}): Promise<CatalogDb> {
    const { db, created } = await openSqliteFile(path, {
      synchronous: options.sync === false ? 'OFF' : 'NORMAL',
      schema: SCHEMA,
      tables: `${OBJECTS_TABLE}
        CREATE TABLE catalog_buckets (name TEXT PRIMARY KEY, state TEXT NOT NULL);`,
      upgrades: UPGRADES,
    })
    return new CatalogDb(db, created, journalPath, options.sync === false ? undefined : `${path}-wal`)
  }

  async load (): Promise<CatalogEntry[]> {
    const found = await stat(this.journalPath).then(() => true, () => false)
    if (!found) return []
    if (this.imported) {
      // Imported before (the removal did not happen): the table is the catalog now.
      await rm(this.journalPath, { force: true })
      return []
    }
    this.journal = this.journalPath
    const journal = new CatalogJournal(this.journalPath, false)
    try { return await journal.load() } finally { await journal.close() }
  }

  /** The table holds the entries already. */
  record (): void {}

  async flush (durable: boolean): Promise<void> {
    if (!durable) return
    if (this.journal !== undefined && !this.imported) {
      // In the transaction that holds the imported entries: a crash before this commit imports the journal again.
      this.table.write(() => { this.markImported.run() })
      this.imported = true
    }
    this.table.commit(true)
    if (this.journal !== undefined) {
      await rm(this.journal, { force: true })
      this.journal = undefined
    }
  }

  wantsCompaction (): boolean { return false }
  async compact (): Promise<void> {}

  async close (options: { checked?: string } = {}): Promise<void> {
    await this.flush(true).catch(() => {})
    // In the last transaction: the mark says every entry before it is on disk.
    if (options.checked !== undefined) try { this.table.write(() => { this.markChecked.run(options.checked!) }) } catch { /* closed already */ }
    this.table.close()
  }
}

/** fsync of a file by path (any descriptor of a file syncs its data). */
function syncFile (path: string): void {
  const fd = openSync(path, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
