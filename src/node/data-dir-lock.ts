import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { DatabaseSync } from 'node:sqlite'
import { CliError } from './cli-error.js'
import { codeOf } from './disk-files.js'
import { notADatabase, sqliteResultCode } from './sqlite-file.js'

/** SQLite's result code for a file another connection holds locked (https://sqlite.org/rescode.html). */
const SQLITE_BUSY = 5
/** How long a start waits for the lock, ms: two servers started at once each take a moment to decide. */
const LOCK_WAIT_MS = 2000

export interface DataDirLockFiles {
  /** The file whose lock the kernel holds for the owner: a SQLite file opened in exclusive locking mode, never deleted. */
  lockDb: string
  /** The owner's pid, for the message a second server prints; releases before lock.db locked by this file alone. */
  lockFile: string
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return codeOf(err) === 'EPERM'
  }
}

async function pidIn (file: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

/** Takes the file's lock, or throws SQLite's error: BUSY when another process (or connection) keeps it. */
function takeLock (path: string): DatabaseSync {
  const db = new DatabaseSync(path)
  try {
    // As a pragma, not DatabaseSync's `timeout` option: that came in Node 22.16, and 22.13 is supported.
    db.exec(`PRAGMA busy_timeout = ${LOCK_WAIT_MS}`)
    db.exec('PRAGMA journal_mode = MEMORY')
    // The write lock is waited for in normal locking mode, which lets go of its read lock between tries: in
    // exclusive mode from the start, a statement's read lock is kept, and two starters each keeping one while
    // waiting for the other's both gave up (measured: 6 of 40 simultaneous starts on a new file, none this way).
    db.exec('BEGIN EXCLUSIVE')
    // Exclusive locking mode, set while the write lock is held, keeps it past COMMIT until the connection closes;
    // the kernel drops it when the process dies, however it dies.
    db.exec('PRAGMA locking_mode = EXCLUSIVE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER); DELETE FROM owner;')
    db.prepare('INSERT INTO owner (pid) VALUES (?)').run(process.pid)
    db.exec('COMMIT')
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

const inUse = (dataDir: string, pid: number | undefined): CliError =>
  new CliError(`The data folder ${dataDir} is in use by another s3mesh process${pid === undefined ? '' : ` (pid ${pid})`}. Stop it, or start this one with another folder.`)

/**
 * One server per data folder: two processes committing into the same folder
 * would break each other's index. The lock is a file lock the kernel holds
 * for the owning process (taken through SQLite, which s3mesh already uses:
 * fcntl's on Unix, LockFileEx on Windows). It is taken or refused in one
 * step, so two servers started together cannot both win, and a process that
 * crashed or was killed leaves nothing behind, whatever pid runs next. A pid
 * file beside it names the owner in the message.
 */
export async function lockDataDir (files: DataDirLockFiles, dataDir: string): Promise<() => Promise<void>> {
  const first = !existsSync(files.lockDb)
  let db: DatabaseSync
  try {
    db = takeLock(files.lockDb)
  } catch (err) {
    if (sqliteResultCode(err) === SQLITE_BUSY) throw inUse(dataDir, await pidIn(files.lockFile))
    if (!notADatabase(err)) throw new CliError(`Could not lock the data folder ${dataDir}: ${(err as Error).message}; check ${files.lockDb}.`)
    // Not a database (a file damaged, or written by something else): it holds nothing, so it is made again.
    await rm(files.lockDb, { force: true })
    db = takeLock(files.lockDb)
  }
  try {
    // The folder's first start by a release that locks lock.db: an older release locks by the pid file alone, and
    // may be running on it now. Once lock.db is there, every server locks it, and the pid file is only a name.
    const before = first ? await pidIn(files.lockFile) : undefined
    if (before !== undefined && before !== process.pid && alive(before)) {
      await rm(files.lockDb, { force: true })
      throw inUse(dataDir, before)
    }
    await writeFile(files.lockFile, String(process.pid))
  } catch (err) {
    db.close()
    throw err
  }
  let released = false
  return async () => {
    if (released) return
    released = true
    // The pid file first (if it is still this process's): once the lock is let go, it may be the next owner's.
    if (await pidIn(files.lockFile) === process.pid) await rm(files.lockFile, { force: true }).catch(() => {})
    db.close()
  }
}
