import { constants } from 'node:fs'
import { mkdir, rename, rm, rmdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { S3Error } from '../core/errors.js'
import { closeFd, fsyncFd, openFd, readAt, writeAll } from './fd.js'

/** Error codes of the Node fs layer, typed. */
export function codeOf (err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined
}

/**
 * Turns file-system failures a client can be told about into S3 errors: a full
 * disk is 507 InsufficientStorage, a folder the server may not write is a 500
 * that says so. Anything else passes through (and becomes InternalError).
 */
export function storageError (err: unknown, what: string): unknown {
  if (err instanceof S3Error) return err
  switch (codeOf(err)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new S3Error('InsufficientStorage', `The server's disk is full: cannot ${what}.`, { cause: err })
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new S3Error('InternalError', `The server may not write to its data folder (${codeOf(err)}): cannot ${what}.`, { cause: err })
    case 'EMFILE':
    case 'ENFILE':
      return new S3Error('ServiceUnavailable', 'The server has too many open files; retry shortly.', { cause: err })
    default:
      return err
  }
}

/** fsync a directory so that a rename into it survives power loss. */
export async function syncDir (dir: string): Promise<void> {
  const fd = await openFd(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try { await fsyncFd(fd) } finally { await closeFd(fd) }
}

/** Writes a small file durably at a temp path (the caller renames it into place). */
export async function writeDurable (path: string, data: string | Uint8Array, sync: boolean, mode = 0o644): Promise<void> {
  const fd = await openFd(path, 'w', mode)
  try {
    await writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data)
    if (sync) await fsyncFd(fd)
  } finally {
    await closeFd(fd)
  }
}

/** Renames into place, making the parent folder first when missing (DurableFolders.rename for a rename whose folders must be durable). */
export async function renameInto (from: string, to: string): Promise<void> {
  try {
    await rename(from, to)
  } catch (err) {
    if (codeOf(err) !== 'ENOENT') throw err
    await mkdir(dirname(to), { recursive: true })
    await rename(from, to)
  }
}

/**
 * The folders to fsync for a rename into `dir` to be durable: `dir` (its new
 * entry) and, when mkdir made folders (`made`, the first of them), the
 * parent of each up to the one that was there (their entries are as new).
 */
export function foldersToSync (dir: string, made: string | undefined): string[] {
  const out = [dir]
  if (made === undefined) return out
  for (let d = dir; d !== dirname(made) && d !== dirname(d);) {
    d = dirname(d)
    out.push(d)
  }
  return out
}

export async function removeQuietly (path: string): Promise<void> {
  await rm(path, { force: true, recursive: true }).catch(() => {})
}

/** Removes empty folders from `dir` up to (not including) `stop`. */
export async function pruneEmptyDirs (dir: string, stop: string): Promise<void> {
  let d = dir
  while (d.length > stop.length && d.startsWith(stop + '/')) {
    try {
      await rmdir(d)
    } catch {
      return
    }
    d = dirname(d)
  }
}

/**
 * Reads an open file as a Web stream, from `start` to `end` inclusive, one read
 * of up to 1 MiB per pull (a 1 MiB object is one read); `onClose` runs once at
 * the end, on error or on cancel.
 */
export function fileStream (fd: number, start: number, end: number, onClose: () => Promise<void>): ReadableStream<Uint8Array> {
  const CHUNK = 1024 * 1024
  let position = start
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      try {
        const want = Math.min(CHUNK, end + 1 - position)
        if (want <= 0) { controller.close(); await onClose(); return }
        const buffer = Buffer.allocUnsafe(want)
        const n = await readAt(fd, buffer, want, position)
        if (n === 0) throw new Error('The object file is shorter than its metadata says.')
        position += n
        controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, n))
        if (position > end) { controller.close(); await onClose() }
      } catch (err) {
        controller.error(err)
        await onClose()
      }
    },
    async cancel () { await onClose() },
  }, { highWaterMark: 0 })
}
