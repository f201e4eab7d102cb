import { open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { S3Error } from '../core/errors.js'
import { CHECKSUM_ALGORITHMS, type Checksum, type ChecksumAlgorithm } from '../core/checksums.js'
import { fromBase64, fromHex, toBase64, toHex, type Hashes } from '../core/hashes.js'
import { compareKeys } from '../core/key-order.js'
import type { PartInfo, UploadInfo } from '../core/object-store.js'
import { codeOf, removeQuietly, writeDurable } from './disk-files.js'
import type { DurableFolders, MadeFolders } from './durable-folders.js'
import type { DiskLayout } from './disk-layout.js'
import type { UploadRecord } from './disk-records.js'

const UPLOAD_ID = /^[0-9a-f]{32}$/
/** An upload's folder without its record, older than this (ms), was left by a create a crash cut short. */
const HALF_MADE_MS = 60_000
/** Reads of an upload's folder before a listing whose parts keep being replaced under it gives up. */
const MAX_PART_READS = 20
// A part file's name carries everything about it: `part.<5-digit number>.<md5 hex>`, then
// `.<algorithm>-<hex digest>` for a part sent with a checksum.
const PART_FILE = /^part\.(\d{5})\.([0-9a-f]{32})(?:\.([a-z0-9]+)-([0-9a-f]+))?$/

/** What a client is told of an upload that is not there (never was, or completed or aborted since). */
function noSuchUpload (uploadId: string): S3Error {
  return new S3Error('NoSuchUpload', undefined, { detail: { UploadId: uploadId } })
}

/**
 * Removes an upload's folder: its record first, durably (the upload is gone
 * from then on, also after a power cut: a folder without its record is no
 * upload), then its parts. Throws if the record cannot be removed for good;
 * the parts' removal is best-effort (a folder left without its record is
 * removed later, see DiskUploads.hasAny).
 */
export async function removeUpload (folders: DurableFolders, dir: string): Promise<void> {
  await unlink(join(dir, 'upload.json')).catch((err: unknown) => { if (codeOf(err) !== 'ENOENT' && codeOf(err) !== 'ENOTDIR') throw err })
  await folders.sync(dir)
  await removeQuietly(dir)
  await folders.sync(dirname(dir)).catch(() => {})
}

/**
 * Multipart staging on disk: `.s3mesh/multipart/<bucket>/<uploadId>/` holds
 * `upload.json` and one file per part. A part is written to a temp file and
 * renamed into place, so a part is either whole or absent.
 */
export class DiskUploads {
  /** `folders`: where the uploads' folders are made durable (shared with the store's writes). */
  constructor (private readonly layout: DiskLayout, private readonly sync: boolean, private readonly folders: DurableFolders) {}

  /**
   * Makes an upload's folder and record, durable before the answer (the
   * folders fsynced after the rename, as far up as mkdir may have made
   * them). One that fails leaves no folder: a folder without its record
   * would keep its bucket from being deleted.
   */
  async create (bucket: string, uploadId: string, record: UploadRecord, tmp: string): Promise<void> {
    const dir = this.layout.uploadDir(bucket, uploadId)
    let made: MadeFolders | undefined
    try {
      // The folders mkdir made (the bucket's uploads folder, the first time) are fsynced in their parents too.
      made = await this.folders.make(dir)
      await writeDurable(tmp, JSON.stringify(record), this.sync)
      await rename(tmp, join(dir, 'upload.json'))
      await this.folders.sync(dir, made)
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => {})
      await rm(tmp, { force: true }).catch(() => {})
      await this.folders.abandon(made)
      throw err
    }
  }

  /** Removes an upload (see removeUpload). */
  async remove (bucket: string, uploadId: string): Promise<void> {
    await removeUpload(this.folders, this.layout.uploadDir(bucket, uploadId))
  }

  /** The upload's record; NoSuchUpload when there is none for this bucket and key. */
  async get (bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    // Upload ids become path names: only the exact shape s3mesh issues is looked up.
    if (!UPLOAD_ID.test(uploadId)) throw noSuchUpload(uploadId)
    try {
      const record = JSON.parse(await readFile(join(this.layout.uploadDir(bucket, uploadId), 'upload.json'), 'utf8')) as UploadRecord
      if (record.key !== key) throw noSuchUpload(uploadId)
      return record
    } catch (err) {
      if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') throw noSuchUpload(uploadId)
      throw err
    }
  }

  /** Moves a written part into place, replacing any earlier upload of the same part number. */
  async putPart (bucket: string, uploadId: string, partNumber: number, etag: string, checksum: Checksum | undefined, tmp: string): Promise<void> {
    const dir = this.layout.uploadDir(bucket, uploadId)
    const sum = checksum === undefined ? '' : `.${checksum.algorithm.toLowerCase()}-${toHex(fromBase64(checksum.value)!)}`
    const name = `part.${String(partNumber).padStart(5, '0')}.${etag}${sum}`
    const before = await readdir(dir)
    await rename(tmp, join(dir, name))
    // Durable before the answer: a part acknowledged and then lost would fail the upload's completion.
    await this.folders.sync(dir)
    for (const other of before) {
      if (other !== name && other.startsWith(name.slice(0, 11))) await unlink(join(dir, other)).catch(() => {})
    }
  }

  /**
   * Parts by number with their files; when a crash left two files for one
   * number, the newer wins. A part uploaded again while this lists (putPart
   * holds the upload's lock; a listing does not) renames its file in, then
   * removes the one it replaced: a file gone between the folder's read and
   * its stat means a newer one is there, and the folder is read again.
   */
  async parts (bucket: string, uploadId: string): Promise<Map<number, PartInfo & { path: string }>> {
    for (let tries = 1; ; tries++) {
      const found = await this.readParts(bucket, uploadId)
      // Completed or aborted meanwhile (its record goes first, then its parts): what was read is no upload's.
      const record = await stat(join(this.layout.uploadDir(bucket, uploadId), 'upload.json')).catch((err: unknown) => { if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return undefined; throw err })
      if (record === undefined) throw noSuchUpload(uploadId)
      if (found !== undefined) return found
      if (tries === MAX_PART_READS) throw new S3Error('ServiceUnavailable', 'The upload\'s parts kept changing while they were listed: try again.')
    }
  }

  /** One read of the upload's parts (see parts); undefined if a file went meanwhile. */
  private async readParts (bucket: string, uploadId: string): Promise<Map<number, PartInfo & { path: string }> | undefined> {
    const dir = this.layout.uploadDir(bucket, uploadId)
    const out = new Map<number, PartInfo & { path: string }>()
    // Gone since the caller looked it up (completed or aborted meanwhile): as if it had not been found.
    const names = await readdir(dir).catch((err: unknown) => { throw codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR' ? noSuchUpload(uploadId) : err })
    for (const name of names) {
      const m = PART_FILE.exec(name)
      if (m === null) continue
      const path = join(dir, name)
      const s = await stat(path).catch((err: unknown) => { if (codeOf(err) === 'ENOENT') return undefined; throw err })
      if (s === undefined) return undefined
      const partNumber = Number(m[1])
      const seen = out.get(partNumber)
      if (seen !== undefined && seen.lastModified.getTime() > s.mtimeMs) continue
      const algorithm = m[3]?.toUpperCase() as ChecksumAlgorithm | undefined
      const digest = m[4] === undefined ? undefined : fromHex(m[4])
      const checksum = algorithm !== undefined && digest !== undefined && CHECKSUM_ALGORITHMS.includes(algorithm) ? { algorithm, value: toBase64(digest) } : undefined
      out.set(partNumber, { partNumber, etag: m[2]!, size: s.size, lastModified: s.mtime, ...(checksum === undefined ? {} : { checksum }), path })
    }
    return out
  }

  async list (bucket: string, prefix: string): Promise<UploadInfo[]> {
    const dir = this.layout.uploadsDir(bucket)
    const out: UploadInfo[] = []
    for (const uploadId of await readdir(dir).catch(() => [] as string[])) {
      if (!UPLOAD_ID.test(uploadId)) continue
      try {
        const r = JSON.parse(await readFile(join(dir, uploadId, 'upload.json'), 'utf8')) as UploadRecord
        if (r.key.startsWith(prefix)) out.push({ uploadId, key: r.key, initiated: new Date(r.initiated) })
      } catch {
        // An upload being created or removed right now.
      }
    }
    return out.sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime())
  }

  /** Whether the bucket has an upload in progress (DeleteBucket refuses then). */
  async hasAny (bucket: string): Promise<boolean> {
    const dir = this.layout.uploadsDir(bucket)
    for (const uploadId of await readdir(dir).catch(() => [] as string[])) {
      const at = join(dir, uploadId)
      if (await stat(join(at, 'upload.json')).then(() => true, (err: unknown) => codeOf(err) !== 'ENOENT')) return true
      // A folder without its record: an upload being made right now counts; one a crash left half made does not, and goes.
      const s = await stat(at).catch(() => undefined)
      if (s === undefined) continue
      if (Date.now() - s.mtimeMs < HALF_MADE_MS) return true
      await rm(at, { recursive: true, force: true }).catch(() => {})
    }
    return false
  }

  /** Concatenates parts into one file at `tmp`, returning its SHA-256 (hex), inode and mtime. */
  async join (parts: Array<{ path: string }>, tmp: string, hashes: Hashes, signal?: AbortSignal): Promise<{ sha256: string, ino: number, mtimeMs: number }> {
    const sha = hashes.create('sha256')
    const out = await open(tmp, 'w', 0o644)
    try {
      const buffer = Buffer.allocUnsafe(1024 * 1024)
      let joined = 0
      for (const part of parts) {
        const fh = await open(part.path, 'r')
        try {
          for (;;) {
            if (signal?.aborted === true) throw new S3Error('InternalError', 'The request was aborted.')
            const { bytesRead } = await fh.read(buffer, 0, buffer.length, null)
            if (bytesRead === 0) break
            const chunk = buffer.subarray(0, bytesRead)
            sha.update(chunk)
            // One write(2) may take fewer bytes (a disk or quota nearly full): the rest is written, not dropped.
            for (let done = 0; done < chunk.byteLength;) done += (await out.write(chunk, done, chunk.byteLength - done)).bytesWritten
            joined += bytesRead
          }
        } finally {
          await fh.close()
        }
      }
      if (this.sync) await out.sync()
      const s = await out.stat()
      if (s.size !== joined) throw new S3Error('InternalError', `The parts joined into ${s.size} bytes, not ${joined}.`)
      return { sha256: toHex(sha.digest()), ino: s.ino, mtimeMs: s.mtimeMs }
    } finally {
      await out.close()
    }
  }
}
