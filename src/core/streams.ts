import { AbortError, S3Error } from './errors.js'
import { fromHex, type HashAlgorithm, type Hashes } from './hashes.js'
import type { VerifiedDigests } from './object-store.js'

export interface DrainOptions {
  hashes: Hashes
  /** Digests to compute over the bytes as they pass. */
  algorithms: readonly HashAlgorithm[]
  /** The declared length: any other length fails with IncompleteBody. */
  expectedSize?: number
  signal?: AbortSignal
  /** Called with each chunk; awaited, so a slow sink slows the reader (backpressure). */
  sink: (chunk: Uint8Array) => void | Promise<void>
}

export interface Drained {
  size: number
  digests: Partial<Record<HashAlgorithm, Uint8Array>>
}

/**
 * Reads a body to its end, hashing it and handing each chunk to a sink. Every
 * store's write path goes through here, so size checks, hashing and abort are
 * the same everywhere. On any error the stream is cancelled and the error
 * rethrown; the caller discards what the sink received.
 */
export async function drain (body: ReadableStream<Uint8Array>, options: DrainOptions): Promise<Drained> {
  const { signal, expectedSize } = options
  const hashers = options.algorithms.map(a => [a, options.hashes.create(a)] as const)
  const reader = body.getReader()
  const onAbort = (): void => { reader.cancel(new AbortError()).catch(() => {}) }
  signal?.addEventListener('abort', onAbort)
  let size = 0
  try {
    for (;;) {
      throwIfAborted(signal)
      const { done, value } = await reader.read()
      throwIfAborted(signal)
      if (done) break
      size += value.byteLength
      if (expectedSize !== undefined && size > expectedSize) {
        throw new S3Error('IncompleteBody', `The body is longer than the declared ${expectedSize} bytes.`)
      }
      for (const [, h] of hashers) h.update(value)
      await options.sink(value)
    }
  } catch (err) {
    reader.cancel(err).catch(() => {})
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    reader.releaseLock()
  }
  if (expectedSize !== undefined && size !== expectedSize) {
    throw new S3Error('IncompleteBody', `The body ended after ${size} of the declared ${expectedSize} bytes.`)
  }
  const digests: Drained['digests'] = {}
  for (const [a, h] of hashers) digests[a] = h.digest()
  return { size, digests }
}

/**
 * Drains a body computing only the digests the caller has not already verified,
 * and returns them all (hex-decoded from `verified` where given).
 */
export async function drainWithDigests (body: ReadableStream<Uint8Array>, wanted: ReadonlyArray<'md5' | 'sha256'>, verified: VerifiedDigests | undefined, options: Omit<DrainOptions, 'algorithms'>): Promise<Drained> {
  const known: Drained['digests'] = {}
  for (const a of wanted) {
    const hex = verified?.[a]
    const bytes = hex === undefined ? undefined : fromHex(hex)
    if (bytes !== undefined) known[a] = bytes
  }
  const result = await drain(body, { ...options, algorithms: wanted.filter(a => known[a] === undefined) })
  return { size: result.size, digests: { ...known, ...result.digests } }
}

/** Throws AbortError when the signal has fired. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal?.aborted === true) throw new AbortError()
}

/** A stream of one buffer, cut into chunks so consumers see steady backpressure. */
export function streamOfBytes (bytes: Uint8Array, chunkSize = 256 * 1024): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull (controller) {
      if (offset >= bytes.length) { controller.close(); return }
      controller.enqueue(bytes.subarray(offset, offset + chunkSize))
      offset += chunkSize
    },
  }, { highWaterMark: 0 })
}

/** Collects a whole stream into one buffer (for small bodies such as XML requests), refusing more than `limit` bytes. */
export async function readAll (body: ReadableStream<Uint8Array> | null, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = body.getReader()
  try {
    for (;;) {
      throwIfAborted(signal)
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > limit) throw new S3Error('EntityTooLarge', `This request body may be at most ${limit} bytes.`)
      chunks.push(value)
    }
  } catch (err) {
    reader.cancel(err).catch(() => {})
    throw err
  } finally {
    reader.releaseLock()
  }
  return concatBytes(chunks, total)
}

export function concatBytes (chunks: Uint8Array[], total = chunks.reduce((n, c) => n + c.byteLength, 0)): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) { out.set(c, offset); offset += c.byteLength }
  return out
}

/** Passes on only bytes `start` to `end` (inclusive) of what flows through, and ends there (cancelling what is upstream). */
export function byteRange (start: number, end: number): TransformStream<Uint8Array, Uint8Array> {
  let offset = 0
  return new TransformStream({
    transform (chunk, controller) {
      const from = Math.max(0, start - offset)
      const to = Math.min(chunk.byteLength, end + 1 - offset)
      offset += chunk.byteLength
      if (to > from) controller.enqueue(chunk.subarray(from, to))
      if (offset > end) controller.terminate()
    },
  })
}
