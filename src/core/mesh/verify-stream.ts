import { toHex, type Hashes } from '../hashes.js'
import { concatBytes } from '../streams.js'

/** Bytes that did not hash to what the catalog says: the holder that sent them is skipped. */
export class ContentMismatchError extends Error {
  override name = 'ContentMismatchError'
}

/** What the bytes must be: known from the start, or only once they have all arrived (a write streamed as it is made). */
export type Expected = { sha256: string, size: number } | (() => Promise<{ sha256: string, size: number }>)

/**
 * Passes bytes through while hashing them, and errors the stream instead of
 * ending it when the total size or SHA-256 differs from what is expected. It
 * holds back the last chunk until the digest is known, so whoever reads it
 * never sees the end of bad bytes: a store does not commit them, and an HTTP
 * response stays short of its Content-Length (the client sees a failure, not
 * a wrong object). A late expectation is asked for when the bytes end; if
 * that fails, so does the stream.
 */
export function verifyingStream (hashes: Hashes, expected: Expected, onMismatch?: (err: ContentMismatchError) => void): TransformStream<Uint8Array, Uint8Array> {
  const early = typeof expected === 'function' ? undefined : expected
  // Bytes up to ONE_SHOT_BYTES are kept (not copied) and hashed at the end in one call where the platform has a
  // faster one-shot hash; past that, and elsewhere, they are hashed as they pass. So what reads this stream must not
  // change the chunks it is given (none does: stores copy out of them).
  let kept: Uint8Array[] | undefined = hashes.sha256Of !== undefined && (early === undefined || early.size <= ONE_SHOT_BYTES) ? [] : undefined
  let hash = kept === undefined ? hashes.create('sha256') : undefined
  let size = 0
  let held: Uint8Array | undefined
  const fail = (message: string): never => {
    const err = new ContentMismatchError(message)
    onMismatch?.(err)
    throw err
  }
  return new TransformStream({
    transform (chunk, controller) {
      size += chunk.byteLength
      if (early !== undefined && size > early.size) fail(`Received more than the expected ${early.size} bytes.`)
      if (kept !== undefined && size > ONE_SHOT_BYTES) {
        hash = hashes.create('sha256')
        for (const k of kept) hash.update(k)
        kept = undefined
      }
      if (kept !== undefined) kept.push(chunk)
      else hash!.update(chunk)
      if (held !== undefined) controller.enqueue(held)
      held = chunk
    },
    async flush (controller) {
      const want = early ?? await (expected as () => Promise<{ sha256: string, size: number }>)()
      if (size !== want.size) fail(`Received ${size} of the expected ${want.size} bytes.`)
      const got = toHex(kept !== undefined ? await hashes.sha256Of!(concatBytes(kept, size)) : hash!.digest())
      if (got !== want.sha256) fail(`The bytes hash to ${got}, not the expected ${want.sha256}.`)
      if (held !== undefined) controller.enqueue(held)
    },
  })
}

/** The largest body kept in memory for a one-shot hash (a tab's writes and reads are mostly smaller). */
const ONE_SHOT_BYTES = 8 * 1024 * 1024
