import { opendir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as yieldToIo } from 'node:timers/promises'
import { isS3Error } from '../core/errors.js'
import { assertObjectKey } from '../core/names.js'
import type { MetaDb } from './meta-db.js'

/** Files looked up between two yields to the event loop: requests keep being served during a scan. */
const YIELD_EVERY = 512

export interface FolderScanOptions {
  db: MetaDb
  /** The bucket folders to walk, by bucket name. */
  buckets: () => Array<{ name: string, dir: string }>
  /** Makes the file at `path` the object `key`; false when there was nothing to adopt (not a regular file, written meanwhile). Throws when it failed. */
  adopt: (bucket: string, key: string, path: string, signal: AbortSignal) => Promise<boolean>
  /** The object `key`'s file is gone from its folder (deleted by hand): drops it, and true, if it is still gone under the key's lock. */
  removed: (bucket: string, key: string, signal: AbortSignal) => Promise<boolean>
  /** A file is adopted once unchanged for this long (ms): one still being copied in is left for the next scan. */
  settleMs: number
  /** Time between the end of one scan and the start of the next; 0 scans once, at start. */
  intervalMs: number
  /** Where progress lines go (the server's log). */
  log: (line: string) => void
  /** Runs before the first scan's walk (a rebuild's other sources). */
  beforeFirst?: (signal: AbortSignal) => Promise<void>
}

/** What the scans did, for /metrics. */
export interface ScanCounters {
  /** Scans finished since start. */
  scans: number
  /** Files looked up in the database (those in folders that changed since the last scan). */
  checked: number
  /** Files that became objects. */
  adopted: number
  /** Objects dropped because their file was deleted by hand, found by a scan or by a read (the store counts them). */
  removed: number
  /** Whether a scan is running now. */
  running: boolean
  /** Length of the last finished scan, in seconds. */
  lastSeconds: number
}

/**
 * Files that people put into bucket folders themselves (`cp -r photos data/`)
 * become objects in the background: readiness never waits for them. The
 * first scan runs at start, then one every `intervalMs`.
 *
 * A scan is cheap when little changed: a folder whose mtime is the one the
 * last scan recorded gained or lost no entry since, so its files are not
 * looked up (and a folder that had no subfolders is not even read). A file
 * rewritten in place keeps its folder's mtime; the store catches that on read
 * (the data file's inode and mtime no longer match).
 */
export class FolderScan {
  readonly counters: ScanCounters = { scans: 0, checked: 0, adopted: 0, removed: 0, running: false, lastSeconds: 0 }
  private readonly abort = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private current: Promise<void> | undefined
  /** Objects the running scan found deleted by hand (for its log line). */
  private removedInRun = 0
  /** The running scan left a file that was still changing: the next scan comes once it should have settled. */
  private unsettled = false
  /** Settles when the first scan has finished. */
  readonly firstScan: Promise<void>
  private firstDone!: () => void

  constructor (private readonly o: FolderScanOptions) {
    this.firstScan = new Promise(resolve => { this.firstDone = resolve })
  }

  start (): void {
    this.current = this.run(true)
  }

  /** Runs a scan now (after the running one, if any) and settles when it has finished. */
  async scanNow (): Promise<void> {
    await this.current
    if (this.abort.signal.aborted) return
    clearTimeout(this.timer)
    this.current = this.run(false)
    await this.current
  }

  async stop (): Promise<void> {
    this.abort.abort()
    clearTimeout(this.timer)
    await this.current
  }

  private async run (first: boolean): Promise<void> {
    const started = performance.now()
    const before = { checked: this.counters.checked, adopted: this.counters.adopted }
    this.removedInRun = 0
    this.counters.running = true
    this.unsettled = false
    let lastReport = started
    const report = (): void => {
      const now = performance.now()
      if (now - lastReport < 10_000) return
      lastReport = now
      this.o.log(`adopting files placed in bucket folders: ${this.counters.checked - before.checked} checked, ${this.counters.adopted - before.adopted} adopted so far`)
    }
    try {
      if (first) await this.o.beforeFirst?.(this.abort.signal)
      for (const b of this.o.buckets()) await this.walk(b.name, b.dir, '', report)
    } catch (err) {
      if (!this.abort.signal.aborted) this.o.log(`a scan of the bucket folders stopped: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      this.counters.running = false
      this.counters.scans++
      this.counters.lastSeconds = (performance.now() - started) / 1000
      const adopted = this.counters.adopted - before.adopted
      if (adopted > 0) {
        this.o.log(`adopted ${adopted} files placed in bucket folders (${this.counters.checked - before.checked} checked in ${this.counters.lastSeconds.toFixed(1)} s)`)
      }
      if (this.removedInRun > 0) this.o.log(`dropped ${this.removedInRun} objects whose files were deleted from bucket folders`)
      if (first) this.firstDone()
      const next = this.unsettled ? Math.min(this.o.intervalMs || Infinity, this.o.settleMs + 100) : this.o.intervalMs
      if (!this.abort.signal.aborted && next > 0 && next !== Infinity) {
        this.timer = setTimeout(() => { this.current = this.run(false) }, next)
        this.timer.unref()
      }
    }
  }

  /**
   * Drops the objects of a folder whose files are gone from it (each checked
   * again by the store under its key's lock: a write meanwhile keeps it).
   * False when one could not be dropped (the folder is looked at again).
   */
  private async dropMissing (bucket: string, rel: string, present: Set<string>, report: () => void): Promise<boolean> {
    // Collected first: the index changes as they are dropped.
    const gone = [...missing(this.o.db, bucket, rel, present)]
    let complete = true
    let sinceYield = 0
    for (const key of gone) {
      if (this.abort.signal.aborted) return false
      try {
        if (await this.o.removed(bucket, key, this.abort.signal)) this.removedInRun++
      } catch {
        complete = false
      }
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0
        report()
        await yieldToIo()
      }
    }
    return complete
  }

  /** One folder: its files if it changed since the last scan, then its subfolders. `rel` is its key prefix. */
  private async walk (bucket: string, dir: string, rel: string, report: () => void): Promise<void> {
    const signal = this.abort.signal
    if (signal.aborted) return
    const s = await stat(dir).catch(() => undefined)
    if (s === undefined || !s.isDirectory()) return
    const seen = this.o.db.dir(bucket, rel)
    const changed = seen === undefined || seen.mtimeMs !== s.mtimeMs
    if (!changed && seen.subdirs === 0) return
    const subdirs: string[] = []
    /** Every name in the folder, to find the objects whose file or folder is gone. */
    const present = new Set<string>()
    let sinceYield = 0
    // A file left for later (still being written, or its adoption failed) keeps the folder marked as changed.
    let incomplete = false
    for await (const e of await opendir(dir, { bufferSize: 256 })) {
      if (signal.aborted) return
      present.add(e.name)
      if (e.isDirectory()) {
        subdirs.push(e.name)
        continue
      }
      if (!changed || !e.isFile()) continue
      const key = rel + e.name
      if (!validKey(key)) continue
      this.counters.checked++
      if (!this.o.db.has(bucket, key)) {
        const path = join(dir, e.name)
        const f = await stat(path).catch(() => undefined)
        if (f !== undefined && Date.now() - f.mtimeMs < this.o.settleMs) {
          incomplete = true
          this.unsettled = true
        } else if (f !== undefined) {
          try {
            if (await this.o.adopt(bucket, key, path, signal)) this.counters.adopted++
          } catch {
            incomplete = true
          }
        }
      }
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0
        report()
        await yieldToIo()
      }
    }
    // A folder that changed may have lost files (or whole subfolders) deleted by hand: their objects go.
    if (changed && !await this.dropMissing(bucket, rel, present, report)) incomplete = true
    // Recorded after the files: an entry added while they were read changed the mtime again, so the next scan looks.
    if (changed && !incomplete) await this.o.db.setDir(bucket, rel, { mtimeMs: s.mtimeMs, subdirs: subdirs.length })
    for (const name of subdirs) await this.walk(bucket, join(dir, name), `${rel}${name}/`, report)
  }
}

/** Keys of the objects in a folder the index knows and the folder no longer has (its listing: `present`). */
function missing (db: MetaDb, bucket: string, rel: string, present: Set<string>): IterableIterator<string> {
  return (function * () {
    for (const e of db.entriesIn(bucket, rel)) {
      if ('key' in e) {
        if (!present.has(e.key.slice(rel.length))) yield e.key
      } else if (!present.has(e.folder)) {
        // A whole subfolder gone: every key under it.
        let startAfter: string | undefined
        for (;;) {
          const page = db.page(bucket, { prefix: `${rel}${e.folder}/`, ...(startAfter === undefined ? {} : { startAfter }), limit: 1000 })
          for (const r of page.rows) yield r.key
          if (!page.isTruncated) break
          startAfter = page.rows.at(-1)!.key
        }
      }
    }
  })()
}

function validKey (key: string): boolean {
  try {
    assertObjectKey(key)
    return true
  } catch (err) {
    if (isS3Error(err)) return false
    throw err
  }
}
