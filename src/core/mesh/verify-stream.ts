import { toHex, type Hashes } from '../hashes.js'

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
  const hash = hashes.create('sha256')
  const early = typeof expected === 'function' ? undefined : expected
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
      hash.update(chunk)
      if (held !== undefined) controller.enqueue(held)
      held = chunk
    },
    async flush (controller) {
      const want = early ?? await (expected as () => Promise<{ sha256: string, size: number }>)()
      if (size !== want.size) fail(`Received ${size} of the expected ${want.size} bytes.`)
      const got = toHex(hash.digest())
      if (got !== want.sha256) fail(`The bytes hash to ${got}, not the expected ${want.sha256}.`)
      if (held !== undefined) controller.enqueue(held)
    },
  })
}
