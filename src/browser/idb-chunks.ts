import type { UseStore } from 'idb-keyval'
import { S3Error } from '../core/errors.js'
import type { Hashes } from '../core/hashes.js'
import { randomId } from '../core/ids.js'
import type { ByteRange, VerifiedDigests } from '../core/object-store.js'
import { drainWithDigests } from '../core/streams.js'
import { abandon, get, storageError, type ObjectRecord, type Segment } from './idb-records.js'

/**
 * Bytes per stored chunk. Large objects are many values, never one: a 100 MiB
 * upload never needs 100 MiB in memory or in a single IndexedDB value.
 */
export const CHUNK_BYTES = 1024 * 1024

/**
 * A chunk as IndexedDB keeps it: a Blob (a handle: reading the record reads
 * none of its bytes, and a service worker answers with it as it is), or a
 * byte array, as earlier releases of s3mesh wrote them.
 */
export type StoredChunk = Blob | Uint8Array

/** The chunk stored under (version, index), in the transaction `s` belongs to. */
export async function storedChunk (s: IDBObjectStore, version: string, index: number): Promise<StoredChunk | undefined> {
  return await get(s, ['c', version, index]) as StoredChunk | undefined
}

/** A stored chunk's bytes. */
export async function chunkBytes (chunk: StoredChunk): Promise<Uint8Array> {
  return chunk instanceof Blob ? new Uint8Array(await chunk.arrayBuffer()) : chunk
}

/**
 * The bytes of IdbStore's objects and parts: written as a new version in
 * CHUNK_BYTES chunks (each write its own transaction, so a large upload
 * never sits in memory or in one IndexedDB value), read back as a stream of
 * the chunks a range covers.
 */
export class IdbChunks {
  constructor (private readonly db: UseStore, private readonly hashes: Hashes) {}

  /**
   * Stores chunk `index` of a write in progress, and marks the write as
   * alive now (IdbStore's sweep deletes the chunks of a write whose mark is
   * over an hour old: one a closed tab abandoned). A write whose mark is
   * gone was swept meanwhile (it stalled that long: a laptop asleep): it
   * fails rather than go on and commit without its first chunks.
   */
  private async putChunk (s: IDBObjectStore, version: string, index: number, chunk: Blob): Promise<void> {
    if (index > 0 && await get(s, ['w', version]) === undefined) throw sweptWrite()
    s.put(Date.now(), ['w', version])
    s.put(chunk, ['c', version, index])
  }

  /**
   * Streams a body into CHUNK_BYTES chunks under a new version, hashing as it
   * goes (the digests `wanted` that `verified` does not give). The version is
   * marked as a write in progress until its commit; on any failure its chunks
   * are deleted at once.
   */
  async write (body: ReadableStream<Uint8Array>, wanted: ReadonlyArray<'md5' | 'sha256'>, verified: VerifiedDigests | undefined, expectedSize: number | undefined, signal: AbortSignal | undefined): Promise<{ segment: Segment, size: number, digests: Partial<Record<'md5' | 'sha256', Uint8Array>> }> {
    const version = randomId()
    // One buffer for the whole write: a Blob copies what it is made of.
    const pending = new Uint8Array(CHUNK_BYTES)
    let filled = 0
    let chunks = 0
    const flush = async (): Promise<void> => {
      const chunk = new Blob([pending.subarray(0, filled)])
      const index = chunks++
      filled = 0
      await transaction(this.db, 'readwrite', async s => { await this.putChunk(s, version, index, chunk) })
    }
    try {
      const { size, digests } = await drainWithDigests(body, wanted, verified, {
        hashes: this.hashes,
        expectedSize,
        signal,
        sink: async c => {
          for (let at = 0; at < c.byteLength;) {
            const n = Math.min(c.byteLength - at, CHUNK_BYTES - filled)
            pending.set(c.subarray(at, at + n), filled)
            filled += n
            at += n
            if (filled === CHUNK_BYTES) await flush()
          }
        },
      })
      if (filled > 0 || chunks === 0) await flush()
      return { segment: { version, chunks, size }, size, digests }
    } catch (err) {
      await transaction(this.db, 'readwrite', async s => { abandon(s, [{ version, chunks, size: 0 }]) }).catch(() => {})
      throw storageError(err)
    }
  }

  /**
   * As write, for a body the caller holds as a Blob: its CHUNK_BYTES slices
   * are stored as they are (IndexedDB keeps a Blob without a byte of it
   * passing through JavaScript), and `body`, the same bytes, is let go
   * unread. Nothing is hashed.
   */
  async writeBlob (blob: Blob, body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined): Promise<{ segment: Segment, size: number, digests: Partial<Record<'md5' | 'sha256', Uint8Array>> }> {
    await body.cancel().catch(() => {})
    const version = randomId()
    const size = blob.size
    const chunks = Math.max(1, Math.ceil(size / CHUNK_BYTES))
    try {
      for (let index = 0; index < chunks; index++) {
        signal?.throwIfAborted()
        const chunk = chunks === 1 ? blob : blob.slice(index * CHUNK_BYTES, Math.min(size, (index + 1) * CHUNK_BYTES))
        await transaction(this.db, 'readwrite', async s => { await this.putChunk(s, version, index, chunk) })
      }
      return { segment: { version, chunks, size }, size, digests: {} }
    } catch (err) {
      await transaction(this.db, 'readwrite', async s => { abandon(s, [{ version, chunks, size: 0 }]) }).catch(() => {})
      throw storageError(err)
    }
  }

  async chunk (version: string, index: number): Promise<Uint8Array> {
    const chunk = await transaction(this.db, 'readonly', async s => await storedChunk(s, version, index))
    if (chunk === undefined) throw missingChunk()
    return await chunkBytes(chunk)
  }

  /**
   * The range as one Blob made of the stored chunks' Blobs (no bytes read),
   * or undefined when a chunk is kept as bytes (written by an older version).
   */
  async blob (record: ObjectRecord, range: ByteRange): Promise<Blob | undefined> {
    const plan = this.plan(record, range)
    const stored = await transaction(this.db, 'readonly', async s => {
      // One chunk of each segment first (a segment is one write, all in one format): an object kept as bytes is
      // streamed, never read whole here.
      const firsts = [...new Map(plan.map(step => [step.version, step] as const).reverse()).values()]
      const probed = await Promise.all(firsts.map(async step => await storedChunk(s, step.version, step.index)))
      if (probed.some(chunk => chunk !== undefined && !(chunk instanceof Blob))) return undefined
      return await Promise.all(plan.map(async step => await storedChunk(s, step.version, step.index)))
    })
    if (stored === undefined) return undefined
    const parts: Blob[] = []
    for (const [i, chunk] of stored.entries()) {
      if (chunk === undefined) throw missingChunk()
      if (!(chunk instanceof Blob)) return undefined
      const { from, to } = plan[i]!
      parts.push(from === 0 && to === chunk.size ? chunk : chunk.slice(from, to))
    }
    return parts.length === 1 ? parts[0]! : new Blob(parts)
  }

  read (record: ObjectRecord, range: ByteRange, first: StoredChunk | undefined): ReadableStream<Uint8Array> {
    const plan = this.plan(record, range)
    let next = 0
    return new ReadableStream<Uint8Array>({
      pull: async controller => {
        const step = plan[next++]
        if (step === undefined) { controller.close(); return }
        try {
          const chunk = first !== undefined && next === 1 ? await chunkBytes(first) : await this.chunk(step.version, step.index)
          controller.enqueue(chunk.subarray(step.from, step.to))
        } catch (err) {
          controller.error(err)
        }
      },
    }, { highWaterMark: 0 })
  }

  /** The (segment, chunk) positions covering `range`, in order, with the part of each it takes. */
  private plan (record: ObjectRecord, range: ByteRange): Array<{ version: string, index: number, from: number, to: number }> {
    const plan: Array<{ version: string, index: number, from: number, to: number }> = []
    let base = 0
    for (const seg of record.segments) {
      for (let i = 0; i < seg.chunks; i++) {
        const start = base + i * CHUNK_BYTES
        const end = Math.min(base + seg.size, start + CHUNK_BYTES) - 1
        if (end >= range.start && start <= range.end) {
          plan.push({ version: seg.version, index: i, from: Math.max(0, range.start - start), to: Math.min(end, range.end) - start + 1 })
        }
      }
      base += seg.size
    }
    return plan
  }
}

/** A write whose chunks the sweep took for an abandoned one's (it stalled for over an hour). */
export function sweptWrite (): S3Error {
  return new S3Error('InternalError', 'This write was stalled for so long that its stored part was cleared as abandoned; send it again.')
}

function missingChunk (): S3Error {
  return new S3Error('InternalError', 'Part of this object is missing from the browser\'s storage (it was replaced long ago, or the storage was cleared).')
}

/** Runs `fn` in one transaction of `db` and resolves when the transaction has committed (or rejects if it aborted). */
export async function transaction<T> (db: UseStore, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => Promise<T>): Promise<T> {
  try {
    return await db(mode, async s => {
      const done = new Promise<void>((resolve, reject) => {
        s.transaction.oncomplete = () => { resolve() }
        s.transaction.onabort = () => { reject(s.transaction.error ?? new Error('The IndexedDB transaction was aborted.')) }
      })
      let result: T
      try {
        result = await fn(s)
      } catch (err) {
        s.transaction.abort()
        await done.catch(() => {})
        throw err
      }
      await done
      return result
    })
  } catch (err) {
    throw storageError(err)
  }
}
