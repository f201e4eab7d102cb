import { open, rename, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { decodeCatalogMessage, encodeCatalogMessage } from '../core/mesh/catalog-codec.js'
import type { CatalogEntry } from '../core/mesh/catalog-entry.js'
import type { CatalogStore } from '../core/mesh/catalog-store.js'
import { nodeHashes } from './node-hashes.js'
import { codeOf, syncDir } from './disk-files.js'

/** Entries per record: one announcement's worth. */
const BATCH = 1000
/** Record header: payload length and CRC-32 of the payload, both 32-bit big-endian. */
const HEADER_BYTES = 8

function crc32 (data: Uint8Array): number {
  const h = nodeHashes.create('crc32')
  h.update(data)
  return new DataView(h.digest().buffer).getUint32(0)
}

function record (entries: CatalogEntry[]): Uint8Array {
  const payload = encodeCatalogMessage(entries)
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength)
  const view = new DataView(out.buffer)
  view.setUint32(0, payload.byteLength)
  view.setUint32(4, crc32(payload))
  out.set(payload, HEADER_BYTES)
  return out
}

/**
 * The catalog on disk, so that a member that restarts remembers versions and
 * tombstones, not only the files it holds: without it, a delete made while a
 * member was away would be forgotten if every other member restarted before
 * it came back, and its copy would bring the object back.
 *
 * An append-only file of records (length, CRC-32, a CBOR batch of entries).
 * Entries only merge, so replaying every record in order (or any order) gives
 * the catalog back; a record torn by a crash fails its CRC and ends the replay
 * there (the file is cut back to the last whole record). When the file holds
 * much more than the catalog, it is rewritten from the catalog (temp file,
 * fsync, rename).
 */
export class CatalogJournal implements CatalogStore {
  private file: FileHandle | undefined
  private pending: CatalogEntry[] = []
  private writing: Promise<void> | undefined
  /** Bytes in the file and entries written since the last rewrite. */
  private bytes = 0
  private written = 0

  /** @param sync fsync when a durable flush is asked for (off only in tests that do not care). */
  constructor (private readonly path: string, private readonly sync = true) {}

  async load (): Promise<CatalogEntry[]> {
    const entries: CatalogEntry[] = []
    let good = 0
    let data: Uint8Array
    try {
      const f = await open(this.path, 'r')
      try { data = new Uint8Array(await f.readFile()) } finally { await f.close() }
    } catch (err) {
      if (codeOf(err) !== 'ENOENT') throw err
      data = new Uint8Array(0)
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    while (good + HEADER_BYTES <= data.byteLength) {
      const length = view.getUint32(good)
      const end = good + HEADER_BYTES + length
      if (end > data.byteLength) break
      const payload = data.subarray(good + HEADER_BYTES, end)
      if (crc32(payload) !== view.getUint32(good + 4)) break
      try {
        for (const e of decodeCatalogMessage(payload).entries) entries.push(e)
      } catch {
        break
      }
      good = end
    }
    this.file = await open(this.path, 'a+')
    // A torn or corrupt tail (a crash mid-append): later appends must follow the last whole record.
    if (good < data.byteLength) await this.file.truncate(good)
    this.bytes = good
    this.written = entries.length
    return entries
  }

  record (entry: CatalogEntry): void {
    this.pending.push(entry)
    if (this.writing === undefined) void this.flush(false).catch(() => {})
  }

  /** Writes what is recorded; with `durable`, also fsyncs before resolving. */
  async flush (durable: boolean): Promise<void> {
    while (this.writing !== undefined) await this.writing
    if (this.pending.length === 0 && !durable) return
    this.writing = this.write(durable)
    try { await this.writing } finally { this.writing = undefined }
    // What was recorded while this write ran goes out next, without waiting for another change.
    if (this.pending.length > 0) void this.flush(false).catch(() => {})
  }

  /** Whether the file holds so much more than the catalog that a rewrite pays. */
  wantsCompaction (catalogEntries: number): boolean {
    return this.bytes > 1024 * 1024 && this.written > 2 * catalogEntries
  }

  /** Replaces the file with `entries` (the whole catalog as it is now). */
  async compact (entries: Iterable<CatalogEntry>): Promise<void> {
    while (this.writing !== undefined) await this.writing
    // A snapshot: the catalog keeps changing while the file is written (those changes are recorded, and appended below).
    const all = [...entries]
    const run = async (): Promise<void> => {
      const temp = `${this.path}.tmp`
      const f = await open(temp, 'w')
      let bytes = 0
      let written = 0
      try {
        let batch: CatalogEntry[] = []
        const put = async (): Promise<void> => {
          const r = record(batch)
          await f.write(r)
          bytes += r.byteLength
          written += batch.length
          batch = []
        }
        for (const e of all) {
          batch.push(e)
          if (batch.length === BATCH) await put()
        }
        // What was recorded meanwhile goes in too: nothing is lost to the rewrite.
        for (const e of this.pending.splice(0)) batch.push(e)
        if (batch.length > 0) await put()
        if (this.sync) await f.sync()
      } finally {
        await f.close()
      }
      await this.file?.close()
      await rename(temp, this.path)
      if (this.sync) await syncDir(dirname(this.path))
      this.file = await open(this.path, 'a+')
      this.bytes = bytes
      this.written = written
    }
    this.writing = run()
    try { await this.writing } finally { this.writing = undefined }
  }

  async close (): Promise<void> {
    await this.flush(true).catch(() => {})
    await this.file?.close()
    this.file = undefined
  }

  private async write (durable: boolean): Promise<void> {
    const file = this.file
    if (file === undefined) return
    const entries = this.pending.splice(0)
    for (let i = 0; i < entries.length; i += BATCH) {
      const r = record(entries.slice(i, i + BATCH))
      await file.write(r)
      this.bytes += r.byteLength
    }
    this.written += entries.length
    if (durable && this.sync) await file.datasync()
  }
}
