import type { Hashes } from '../hashes.js'
import type { ByteRange, ObjectHandle } from '../object-store.js'
import { byteRange } from '../streams.js'
import type { CatalogEntry } from './catalog-entry.js'
import { infoOf } from './local-copies.js'
import type { MeshStoreParts } from './mesh-store.js'
import { verifyingStream } from './verify-stream.js'

// The handles MeshStore.openObject answers with, by where a version's bytes come from.

/**
 * A local handle that reports what the catalog says (tags may have changed
 * since the bytes were stored) and checks whole reads against the version's
 * SHA-256: bad bytes end the response short and get the copy replaced.
 * Ranges cannot be checked without reading everything; they are served as stored.
 */
export function verifiedHandle (handle: ObjectHandle, e: CatalogEntry, hashes: Hashes, onCorrupt: (entry: CatalogEntry) => void): ObjectHandle {
  const object = e.object!
  return {
    info: infoOf(e.key!, object),
    stream: range => {
      const body = handle.stream(range)
      if (range !== undefined && (range.start > 0 || range.end < object.size - 1)) return body
      return body.pipeThrough(verifyingStream(hashes, object, () => { onCorrupt(e) }))
    },
    close: async () => { await handle.close() },
  }
}

/**
 * A handle on a large version read through from a holder, asked for once
 * the range is known: a range travels alone (the chunks that hold it,
 * checked against the version's tree), a whole read streams.
 */
export function readLaterHandle (e: CatalogEntry, read: Required<Pick<MeshStoreParts, 'readThrough' | 'readRange'>>, signal?: AbortSignal): ObjectHandle {
  const object = e.object!
  let taken = false
  const streamReady = async (range?: ByteRange): Promise<ReadableStream<Uint8Array>> => {
    if (taken) throw new Error('This handle was read or closed already.')
    taken = true
    const s = signal ?? new AbortController().signal
    if (range === undefined || (range.start === 0 && range.end >= object.size - 1)) return await read.readThrough(e, 0, s) as ReadableStream<Uint8Array>
    // Not cut from the whole object as it streams: bytes before its end could not be checked then.
    return await read.readRange(e, range, s)
  }
  return {
    info: infoOf(e.key!, object),
    streamReady,
    stream: range => {
      let body: ReadableStreamDefaultReader<Uint8Array> | undefined
      let cancelled: unknown
      return new ReadableStream<Uint8Array>({
        pull: async controller => {
          if (body === undefined) {
            body = (await streamReady(range)).getReader()
            // Cancelled while the holder was being asked: what it then sent is let go too.
            if (cancelled !== undefined) { await body.cancel(cancelled); return }
          }
          const { done, value } = await body.read()
          if (done) controller.close()
          else controller.enqueue(value)
        },
        cancel: async reason => {
          cancelled = reason ?? new Error('cancelled')
          await body?.cancel(reason)
        },
      }, { highWaterMark: 0 })
    },
    close: async () => { taken = true },
  }
}

/** A handle on a version's bytes as they arrive from a holder (already checked against it by the transfer). */
export function streamedHandle (e: CatalogEntry, body: ReadableStream<Uint8Array>): ObjectHandle {
  let taken = false
  return {
    info: infoOf(e.key!, e.object!),
    stream: range => {
      if (taken) throw new Error('This handle was read or closed already.')
      taken = true
      return range === undefined ? body : body.pipeThrough(byteRange(range.start, range.end))
    },
    close: async () => {
      if (taken) return
      taken = true
      // Lets the copy being stored go on without this reader.
      await body.cancel().catch(() => {})
    },
  }
}
