import { readFile, rm, writeFile } from 'node:fs/promises'
import { DatabaseSync } from 'node:sqlite'
import { CliError } from './cli-error.js'

/** SQLite's result code for a file another connection holds locked (https://sqlite.org/rescode.html). */
const SQLITE_BUSY = 5
/** SQLite's result codes for a file that is not a database: the lock file is then made again. */
const SQLITE_CORRUPT = 11
const SQLITE_NOTADB = 26

export interface DataDirLockFiles {
  /** The file whose lock the kernel holds for the owner: a SQLite file opened in exclusive locking mode, never deleted. */
  lockDb: string
  /** The owner's pid, for the message a second server prints (older releases lock by this file alone, and so still see the owner). */
  lockFile: string
}

function resultCode (err: unknown): number | undefined {
  const code = (err as { errcode?: number }).errcode
  return typeof code === 'number' ? code & 0xff : undefined
}

/** Takes the file's lock, or throws SQLite's error: BUSY when another process (or connection) has it. */
function takeLock (path: string): DatabaseSync {
  const db = new DatabaseSync(path)
  try {
    // Exclusive locking mode keeps the write lock from the first write until the connection closes; the kernel
    // drops it when the process dies, however it dies. The write is what takes it (a read would take a shared lock).
    db.exec('PRAGMA locking_mode = EXCLUSIVE; CREATE TABLE IF NOT EXISTS owner (pid INTEGER); DELETE FROM owner;')
    db.prepare('INSERT INTO owner (pid) VALUES (?)').run(process.pid)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * One server per data folder: two processes committing into the same folder
 * would break each other's index. The lock is a file lock the kernel holds
 * for the owning process (taken through SQLite, which s3mesh already uses,
 * as fcntl's on Unix and LockFileEx on Windows): it is taken or refused in
 * one step, so two servers started together cannot both win, and a process
 * that crashed or was killed leaves nothing behind to take over, whatever
 * pid runs next. A pid file beside it only names the owner in the message.
 */
export async function lockDataDir (files: DataDirLockFiles, dataDir: string): Promise<() => Promise<void>> {
  let db: DatabaseSync
  try {
    db = takeLock(files.lockDb)
  } catch (err) {
    const code = resultCode(err)
    if (code === SQLITE_BUSY) {
      const pid = Number((await readFile(files.lockFile, 'utf8').catch(() => '')).trim())
      const named = Number.isInteger(pid) && pid > 0 ? ` (pid ${pid})` : ''
      throw new CliError(`The data folder ${dataDir} is in use by another s3mesh process${named}. Stop it, or start this one with another folder.`)
    }
    if (code !== SQLITE_CORRUPT && code !== SQLITE_NOTADB) throw new CliError(`Could not lock the data folder ${dataDir}: ${(err as Error).message}; check ${files.lockDb}.`)
    // Not a database (a file damaged, or written by something else): it holds nothing, so it is made again.
    await rm(files.lockDb, { force: true })
    db = takeLock(files.lockDb)
  }
  try {
    await writeFile(files.lockFile, String(process.pid))
  } catch (err) {
    db.close()
    throw err
  }
  let released = false
  return async () => {
    if (released) return
    released = true
    // The pid file first: once the lock is let go, it may already be the next owner's.
    await rm(files.lockFile, { force: true }).catch(() => {})
    db.close()
  }
}
