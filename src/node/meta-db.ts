import { closeSync, fsyncSync, openSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import type { DatabaseSync, StatementSync } from 'node:sqlite'
import { stampOf, type MetaRecord } from './disk-records.js'
import { prefixEnd } from '../core/key-order.js'
import { GroupFsync } from './group-fsync.js'
import { openSqliteFile } from './sqlite-file.js'

/** Bumped when the tables change; an older database is upgraded in place (UPGRADES), one of another schema rebuilt from the folder. */
const SCHEMA = 2

/**
 * Versions of keys in buckets with versioning set that are not the key's
 * current object (docs/plans/versioning.md): noncurrent versions, and delete
 * markers, current or not. `version_id` is `null` for the null version;
 * `stamp` orders a key's versions (when each was made).
 */
const VERSIONS_TABLE = 'CREATE TABLE versions (bucket TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL, stamp TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (bucket, key, version_id)) WITHOUT ROWID;'

const UPGRADES: Record<number, string> = {
  // Schema 1 kept no versions; a commit's intent gains what it does to them.
  1: `${VERSIONS_TABLE} ALTER TABLE intents ADD COLUMN plan TEXT;`,
}

/**
 * Columns added since schema 2 without a new number, each added where it is
 * missing: the release before names the columns it writes and reads, so it
 * still opens the file as it is (a new schema number would have it moved
 * aside and rebuilt, losing what only the database knew).
 */
const ADDED_COLUMNS: Array<{ table: string, column: string, type: string }> = [
  // Which multipart upload a commit completes (CommitIntent.upload).
  { table: 'intents', column: 'upload', type: 'TEXT' },
]

/** SQLite's result code for a full disk (https://sqlite.org/rescode.html). */
const SQLITE_FULL = 13

/** A commit's intent: written durably before its data file is renamed into place (see DiskWriter.commit). */
export interface CommitIntent {
  id: string
  bucket: string
  record: MetaRecord
  dataTmp: string
  dataPath: string
  /** In a bucket with versioning set: what else the commit moves and changes (disk-versions.ts). */
  plan?: VersionPlan
  /**
   * The folder of the multipart upload the commit completes: removed once the
   * data is in place, before the intent is settled, and by the recovery that
   * finishes the commit, so that no crash leaves the upload to be completed
   * (or listed) again.
   */
  upload?: string
}

/** What a versioned commit does besides placing its new data (see disk-versions.ts). */
export interface VersionPlan {
  /** The key's current object's bytes, moved to where noncurrent versions live (`ino`: the file's). */
  shelve?: { from: string, to: string, ino: number }
  /** A version's file removed (the null version a suspended write or delete replaces). */
  drop?: string
  /** A delete marker's file (its stamp) (a rebuild of the database finds markers by them). */
  markerFile?: string
  /** The marker's file replaces one of the same name (a null marker over a null marker): left in place if the change is undone. */
  markerReplaces?: true
  /** The rows changed with the commit, in its transaction. */
  rows: VersionRows
}

/** Row changes of one key, made in one transaction: its current object's row and its versions'. */
export interface VersionRows {
  /** The key's current object (undefined: none, its row goes). */
  current: MetaRecord | undefined
  put?: MetaRecord[]
  /** Version ids (`null` for the null version) whose rows go. */
  remove?: string[]
}

/** What listing needs of an object, read without parsing its whole record. */
export interface ListedRow {
  key: string
  size: number
  etag: string
  lastModified: number
}

/**
 * A SQLite error turned into what the store's callers understand: a full disk
 * is ENOSPC (InsufficientStorage to the client), whatever SQLite says.
 */
function translate (err: unknown): unknown {
  const e = err as { errcode?: number, message?: string }
  if (typeof e.errcode === 'number' && (e.errcode & 0xff) === SQLITE_FULL) {
    return Object.assign(new Error(`The metadata database cannot grow: ${e.message ?? 'disk full'}`), { code: 'ENOSPC', cause: err })
  }
  return err
}


/**
 * A data folder's object metadata in SQLite (`node:sqlite`, built into Node 22.13+ and 24):
 * one row per object, keyed by (bucket, key) in UTF-8 byte order, so listing
 * is a range read of the index and start-up reads nothing per object.
 *
 * Writes are group-committed: every write asked for in the same turn of the
 * event loop goes into one transaction, and one fsync of the write-ahead log
 * makes them all durable before any caller is answered. node:sqlite is
 * synchronous, and at synchronous=FULL its commit held the event loop for the
 * fsync (about 2 ms of every PUT on this machine's disk, in profiles of the
 * SDK load): commits run at NORMAL instead (they write the log, and survive
 * the process dying), and the log is fsynced on libuv's thread pool, one
 * fsync at a time; the commits made while one runs wait for the next. A
 * committed transaction whose frames in the log are on disk is recovered by
 * SQLite after a power cut, so a write is durable when its caller hears so.
 *
 * The folder stays the truth for bytes: if this file is lost or damaged, the
 * store moves it aside and rebuilds it from the folder (see DiskStore.open).
 */
export class MetaDb {
  private readonly queue: Array<{ op: () => void, resolve: () => void, reject: (err: unknown) => void, synced: boolean }> = []
  private scheduled = false
  /** The log's fsyncs, one at a time, each shared by the writes committed while the one before ran. */
  private readonly logSyncs: GroupFsync
  /** Writes committed whose fsync has not ended (close syncs them itself). */
  private readonly unsynced = new Set<{ resolve: () => void, reject: (err: unknown) => void }>()
  /** Info notes written with the next transaction (setInfoWithNextWrite). */
  private readonly withNextWrite = new Map<string, string>()
  /** Set once an fsync of the log failed: every write is refused from then on. */
  private failure: Error | undefined
  /** The write-ahead log, kept open for its fsyncs (SQLite deletes it only when the database closes). */
  private wal: Promise<FileHandle> | undefined
  // Kept here, not read from DatabaseSync: its isOpen and isTransaction arrived in Node 22.15 and 22.16.
  private closed = false
  private readonly s: Record<'get' | 'has' | 'any' | 'upsert' | 'remove' | 'removeBucket' | 'pageFrom' | 'pageAfter' | 'intent' | 'intents' | 'clearIntent' | 'dirGet' | 'dirSet' | 'dirsClear' | 'count' | 'infoGet' | 'infoSet' |
    'versionsOf' | 'versionPut' | 'versionRemove' | 'versionsClear' | 'anyVersion' | 'keysFrom' | 'keysAfter', StatementSync>

  /** @param walPath the write-ahead log, fsynced before writes resolve; undefined when writes are not synced (--no-fsync) */
  private constructor (private readonly db: DatabaseSync, readonly path: string, readonly created: boolean, private readonly walPath: string | undefined, logFsync?: () => Promise<void>) {
    this.logSyncs = new GroupFsync(logFsync ?? (async () => { await this.syncLog() }))
    const p = (sql: string): StatementSync => db.prepare(sql)
    this.s = {
      get: p('SELECT record FROM objects WHERE bucket = ? AND key = ?'),
      has: p('SELECT 1 AS one FROM objects WHERE bucket = ? AND key = ?'),
      any: p('SELECT 1 AS one FROM objects WHERE bucket = ? LIMIT 1'),
      upsert: p('INSERT INTO objects (bucket, key, size, etag, last_modified, record) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, last_modified = excluded.last_modified, record = excluded.record'),
      remove: p('DELETE FROM objects WHERE bucket = ? AND key = ?'),
      removeBucket: p('DELETE FROM objects WHERE bucket = ?'),
      pageFrom: p('SELECT key, size, etag, last_modified AS lastModified FROM objects WHERE bucket = ? AND key >= ? ORDER BY key LIMIT ?'),
      pageAfter: p('SELECT key, size, etag, last_modified AS lastModified FROM objects WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?'),
      intent: p('INSERT OR REPLACE INTO intents (id, bucket, record, data_tmp, data_path, plan, upload) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      intents: p('SELECT id, bucket, record, data_tmp AS dataTmp, data_path AS dataPath, plan, upload FROM intents'),
      clearIntent: p('DELETE FROM intents WHERE id = ?'),
      dirGet: p('SELECT mtime_ms AS mtimeMs, subdirs FROM dirs WHERE bucket = ? AND path = ?'),
      dirSet: p('INSERT OR REPLACE INTO dirs (bucket, path, mtime_ms, subdirs) VALUES (?, ?, ?, ?)'),
      dirsClear: p('DELETE FROM dirs WHERE bucket = ?'),
      count: p('SELECT count(*) AS n FROM objects WHERE bucket = ?'),
      infoGet: p('SELECT value FROM info WHERE name = ?'),
      infoSet: p('INSERT OR REPLACE INTO info (name, value) VALUES (?, ?)'),
      versionsOf: p('SELECT record FROM versions WHERE bucket = ? AND key = ? ORDER BY stamp DESC, version_id DESC'),
      versionPut: p('INSERT OR REPLACE INTO versions (bucket, key, version_id, stamp, record) VALUES (?, ?, ?, ?, ?)'),
      versionRemove: p('DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?'),
      versionsClear: p('DELETE FROM versions WHERE bucket = ?'),
      anyVersion: p('SELECT 1 AS one FROM versions WHERE bucket = ? LIMIT 1'),
      // The keys with a current object or any version, in key order: the two indexes merged.
      keysFrom: p('SELECT key FROM objects WHERE bucket = ?1 AND key >= ?2 UNION SELECT key FROM versions WHERE bucket = ?1 AND key >= ?2 ORDER BY key LIMIT ?3'),
      keysAfter: p('SELECT key FROM objects WHERE bucket = ?1 AND key > ?2 UNION SELECT key FROM versions WHERE bucket = ?1 AND key > ?2 ORDER BY key LIMIT ?3'),
    }
  }

  /**
   * Opens the database at `path`, creating it if missing. A damaged file or
   * one of another schema is moved aside and a new one made (openSqliteFile):
   * `created` tells the store to rebuild from the folder.
   */
  static async open (path: string, options: { sync: boolean, /** The log's fsync; tests pass a slow one. */ logFsync?: () => Promise<void> }): Promise<MetaDb> {
    const { db, created } = await openSqliteFile(path, {
      synchronous: options.sync ? 'NORMAL' : 'OFF',
      schema: SCHEMA,
      tables: `
        CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, last_modified INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
        CREATE TABLE intents (id TEXT PRIMARY KEY, bucket TEXT NOT NULL, record TEXT NOT NULL, data_tmp TEXT NOT NULL, data_path TEXT NOT NULL, plan TEXT, upload TEXT);
        CREATE TABLE dirs (bucket TEXT NOT NULL, path TEXT NOT NULL, mtime_ms REAL NOT NULL, subdirs INTEGER NOT NULL, PRIMARY KEY (bucket, path)) WITHOUT ROWID;
        ${VERSIONS_TABLE}`,
      upgrades: UPGRADES,
    }).catch((err: unknown) => { throw translate(err) })
    try {
      for (const { table, column, type } of ADDED_COLUMNS) {
        const has = (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some(c => c.name === column)
        if (!has) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`)
      }
    } catch (err) {
      db.close()
      throw translate(err)
    }
    return new MetaDb(db, path, created, options.sync ? `${path}-wal` : undefined, options.logFsync)
  }

  /** Commits what is queued, then closes; later writes are refused. */
  close (): void {
    if (this.closed) return
    this.flush()
    this.closed = true
    // What waits for an fsync gets one now, on this thread: nothing is answered durable that is not.
    const waiting = [...this.unsynced]
    this.unsynced.clear()
    if (this.failure !== undefined) {
      for (const w of waiting) w.reject(this.failure)
    } else if (waiting.length > 0 && this.walPath !== undefined) {
      try {
        const fd = openSync(this.walPath, 'r')
        try { fsyncSync(fd) } finally { closeSync(fd) }
        for (const w of waiting) w.resolve()
      } catch (err) {
        for (const w of waiting) w.reject(err)
      }
    }
    // A FileHandle's close waits for an fsync in progress on it.
    void this.wal?.then(async h => { await h.close() }).catch(() => {})
    this.db.close()
  }

  // ---- reads (synchronous: an indexed lookup is microseconds) ----

  get (bucket: string, key: string): MetaRecord | undefined {
    const row = this.s.get.get(bucket, key) as { record: string } | undefined
    return row === undefined ? undefined : JSON.parse(row.record) as MetaRecord
  }

  has (bucket: string, key: string): boolean {
    return this.s.has.get(bucket, key) !== undefined
  }

  /** Whether the bucket holds any object. */
  hasAny (bucket: string): boolean {
    return this.s.any.get(bucket) !== undefined
  }

  count (bucket: string): number {
    return (this.s.count.get(bucket) as { n: number }).n
  }

  /**
   * Up to `limit` objects whose keys start with `prefix` and sort after
   * `startAfter`, in key order, and whether more follow. SQLite compares TEXT
   * with memcmp over UTF-8, which is S3's order.
   */
  page (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { rows: ListedRow[], isTruncated: boolean } {
    const prefix = options.prefix ?? ''
    const after = options.startAfter !== undefined && Buffer.compare(Buffer.from(options.startAfter), Buffer.from(prefix)) >= 0 ? options.startAfter : undefined
    const rows: ListedRow[] = []
    let isTruncated = false
    // The extra row asked for tells whether more follow.
    const found = after === undefined ? this.s.pageFrom.iterate(bucket, prefix, options.limit + 1) : this.s.pageAfter.iterate(bucket, after, options.limit + 1)
    for (const row of found as Iterable<ListedRow>) {
      if (!row.key.startsWith(prefix)) break
      if (rows.length === options.limit) { isTruncated = true; break }
      rows.push({ key: row.key, size: row.size, etag: row.etag, lastModified: row.lastModified })
    }
    return { rows, isTruncated }
  }

  /**
   * What the index has directly in folder `rel` of a bucket (`rel` is a key
   * prefix ending in '/', or '' for the bucket's own folder): the keys of its
   * files, and the names of its subfolders, each subfolder's keys skipped in
   * one step, so this costs what the folder holds, not what is below it.
   */
  * entriesIn (bucket: string, rel: string): IterableIterator<{ key: string } | { folder: string }> {
    let from = rel
    let inclusive = true
    for (;;) {
      const rows = (inclusive ? this.s.pageFrom.all(bucket, from, 256) : this.s.pageAfter.all(bucket, from, 256)) as Array<{ key: string }>
      let jumped = false
      for (const { key } of rows) {
        if (!key.startsWith(rel)) return
        inclusive = false
        const slash = key.indexOf('/', rel.length)
        if (slash < 0) { yield { key }; from = key; continue }
        // A subfolder (or a key ending in '/'): named once, then past every key under it.
        yield { folder: key.slice(rel.length, slash) }
        from = prefixEnd(key.slice(0, slash + 1))
        jumped = true
        break
      }
      if (!jumped && rows.length < 256) return
    }
  }

  /** A key's versions that are not its current object, newest first (see VERSIONS_TABLE). */
  versionsOf (bucket: string, key: string): MetaRecord[] {
    return (this.s.versionsOf.all(bucket, key) as Array<{ record: string }>).map(r => JSON.parse(r.record) as MetaRecord)
  }

  /** Whether the bucket keeps any version or delete marker besides its current objects. */
  hasAnyVersion (bucket: string): boolean {
    return this.s.anyVersion.get(bucket) !== undefined
  }

  /** Up to `limit` keys with a current object or a version, from `from` (`inclusive`, or after it), in key order. */
  keysWithVersions (bucket: string, from: string, inclusive: boolean, limit: number): string[] {
    return ((inclusive ? this.s.keysFrom : this.s.keysAfter).all(bucket, from, limit) as Array<{ key: string }>).map(r => r.key)
  }

  /** Every commit intent a crash left behind. */
  intents (): CommitIntent[] {
    return (this.s.intents.all() as Array<{ id: string, bucket: string, record: string, dataTmp: string, dataPath: string, plan: string | null, upload: string | null }>)
      .map(r => ({
        id: r.id, bucket: r.bucket, record: JSON.parse(r.record) as MetaRecord, dataTmp: r.dataTmp, dataPath: r.dataPath,
        ...(r.plan === null ? {} : { plan: JSON.parse(r.plan) as VersionPlan }), ...(r.upload === null ? {} : { upload: r.upload }),
      }))
  }

  /** A folder as the last scan saw it (see FolderScan). */
  dir (bucket: string, path: string): { mtimeMs: number, subdirs: number } | undefined {
    return this.s.dirGet.get(bucket, path) as { mtimeMs: number, subdirs: number } | undefined
  }

  info (name: string): string | undefined {
    return (this.s.infoGet.get(name) as { value: string } | undefined)?.value
  }

  // ---- writes (group-committed; each resolves once durable) ----

  put (bucket: string, record: MetaRecord): Promise<void> {
    return this.write(() => { this.upsert(bucket, record) })
  }

  remove (bucket: string, key: string): Promise<void> {
    return this.write(() => { this.s.remove.run(bucket, key) })
  }

  removeBucket (bucket: string): Promise<void> {
    return this.write(() => { this.s.removeBucket.run(bucket); this.s.dirsClear.run(bucket); this.s.versionsClear.run(bucket) })
  }

  /** Records what a commit is about to do, durably, before its data file moves. */
  intend (intent: CommitIntent): Promise<void> {
    return this.write(() => { this.s.intent.run(intent.id, intent.bucket, JSON.stringify(intent.record), intent.dataTmp, intent.dataPath, intent.plan === undefined ? null : JSON.stringify(intent.plan), intent.upload ?? null) })
  }

  /** The commit happened (`record` given, or `rows` for a versioned one) or was abandoned: its intent goes, in the same transaction. */
  settle (id: string, bucket: string, record?: MetaRecord, rows?: { key: string, rows: VersionRows }): Promise<void> {
    return this.write(() => { this.settleRows(id, bucket, record, rows) })
  }

  /**
   * As settle, for a commit whose data is in place and durable: resolves once
   * the transaction is committed (readers see it), without waiting for the
   * log's fsync. Its durable intent already says how to finish the commit
   * after a crash (disk-recovery.ts), so the settle need not be durable to
   * answer the write, and the fsync it would cost is off the write's path;
   * the log is still fsynced behind it, and any later write waits for that.
   */
  settleCommitted (id: string, bucket: string, record?: MetaRecord, rows?: { key: string, rows: VersionRows }): Promise<void> {
    return this.write(() => { this.settleRows(id, bucket, record, rows) }, false)
  }

  private settleRows (id: string, bucket: string, record?: MetaRecord, rows?: { key: string, rows: VersionRows }): void {
    if (record !== undefined) this.upsert(bucket, record)
    if (rows !== undefined) this.changeRows(bucket, rows.key, rows.rows)
    this.s.clearIntent.run(id)
  }

  /** Changes a key's current row and its versions' in one transaction. */
  changeVersions (bucket: string, key: string, rows: VersionRows): Promise<void> {
    return this.write(() => { this.changeRows(bucket, key, rows) })
  }

  /** Replaces the record of one version that is not the current object (a tag edit). */
  putVersion (bucket: string, record: MetaRecord): Promise<void> {
    return this.write(() => { this.versionRow(bucket, record) })
  }

  private changeRows (bucket: string, key: string, rows: VersionRows): void {
    for (const id of rows.remove ?? []) this.s.versionRemove.run(bucket, key, id)
    for (const r of rows.put ?? []) this.versionRow(bucket, r)
    if (rows.current === undefined) this.s.remove.run(bucket, key)
    else this.upsert(bucket, rows.current)
  }

  private versionRow (bucket: string, r: MetaRecord): void {
    this.s.versionPut.run(bucket, r.key, r.versionId ?? 'null', stampOf(r), JSON.stringify(r))
  }

  setDir (bucket: string, path: string, seen: { mtimeMs: number, subdirs: number }): Promise<void> {
    return this.write(() => { this.s.dirSet.run(bucket, path, seen.mtimeMs, seen.subdirs) })
  }

  setInfo (name: string, value: string): Promise<void> {
    return this.write(() => { this.s.infoSet.run(name, value) })
  }

  /**
   * Notes `name` = `value` in the transaction of the next write that
   * commits, and not before: for a note that could not be written alone (a
   * full disk), which must be there before anything else this run changes.
   */
  setInfoWithNextWrite (name: string, value: string): void {
    this.withNextWrite.set(name, value)
  }

  /** Many records in one transaction (imports and rebuilds). */
  putMany (bucket: string, records: MetaRecord[]): Promise<void> {
    return this.write(() => { for (const r of records) this.upsert(bucket, r) })
  }

  private upsert (bucket: string, r: MetaRecord): void {
    this.s.upsert.run(bucket, r.key, r.size, r.etag, r.lastModified, JSON.stringify(r))
  }

  /** Queues a write for the next transaction; it resolves once durable, or once committed when not `synced`. */
  private write (op: () => void, synced = true): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The metadata database is closed (the server is stopping).'))
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject, synced })
      if (!this.scheduled) {
        this.scheduled = true
        // setImmediate, not a microtask: writes started by the same batch of I/O callbacks share the commit.
        setImmediate(() => { this.flush() })
      }
    })
  }

  private flush (): void {
    this.scheduled = false
    if (this.closed) return
    const batch = this.queue.splice(0)
    if (batch.length === 0) return
    // Queued before an fsync of the log failed: refused as a write asked after it is.
    if (this.failure !== undefined) { for (const w of batch) w.reject(this.failure); return }
    const failed = new Map<number, unknown>()
    let begun = false
    try {
      this.db.exec('BEGIN IMMEDIATE')
      begun = true
      // Notes that wait for a write (setInfoWithNextWrite): if they cannot be written, neither is the batch.
      for (const [name, value] of this.withNextWrite) this.s.infoSet.run(name, value)
      batch.forEach((w, i) => {
        // A failing write (a constraint, say) is undone alone; the others still commit.
        this.db.exec('SAVEPOINT w')
        try {
          w.op()
          this.db.exec('RELEASE w')
        } catch (err) {
          this.db.exec('ROLLBACK TO w; RELEASE w')
          failed.set(i, translate(err))
        }
      })
      this.db.exec('COMMIT')
      this.withNextWrite.clear()
    } catch (err) {
      // A failed COMMIT may have left the transaction open: roll it back, or every later BEGIN fails.
      if (begun) try { this.db.exec('ROLLBACK') } catch { /* it was not open */ }
      const e = translate(err)
      for (const w of batch) w.reject(e)
      return
    }
    const committed = batch.filter((w, i) => { if (failed.has(i)) w.reject(failed.get(i)); return !failed.has(i) })
    if (this.walPath === undefined) { for (const w of committed) w.resolve(); return }
    if (committed.length === 0) return
    // One fsync for the whole batch: every write in it was committed before it starts. Writes that need not wait for it are answered now.
    for (const w of committed) {
      if (w.synced) this.unsynced.add(w)
      else w.resolve()
    }
    this.logSyncs.sync(this.walPath).then(
      // An fsync that ends well after one failed proves nothing (the log's pages may be gone): not answered durable.
      () => { for (const w of committed) if (this.unsynced.delete(w)) { if (this.failure === undefined) w.resolve(); else w.reject(this.failure) } },
      (err: unknown) => {
        // After a failed fsync the kernel may have dropped the log's pages, and a later fsync would not say so:
        // no write is answered durable from here on (as SQLite at FULL would fail them); a restart recovers what is on disk.
        if (this.failure === undefined) {
          this.failure = Object.assign(new Error(`The metadata database's log could not be synced (${err instanceof Error ? err.message : String(err)}); writes are refused until the server restarts.`), { code: (err as { code?: string }).code, cause: err })
          // Said here too: writes answered before this fsync (a commit's settle) hear nothing of it.
          process.stderr.write(`s3mesh: ${this.failure.message}\n`)
        }
        for (const w of committed) if (this.unsynced.delete(w)) w.reject(this.failure)
      },
    )
  }

  /** One fsync of the log, on libuv's thread pool. */
  private async syncLog (): Promise<void> {
    if (this.closed) return
    this.wal ??= open(this.walPath!, 'r')
    const wal = this.wal
    try {
      await (await wal).sync()
    } catch (err) {
      // The database refuses writes from now on (see flush); the handle goes.
      if (this.wal === wal) this.wal = undefined
      void wal.then(async h => { await h.close() }).catch(() => {})
      throw err
    }
  }
}
