import { toHex, type Hashes } from '../hashes.js'

/** Bytes that did not hash to what the catalog says: the holder that sent them is skipped. */
export class ContentMismatchError extends Error {
  override name = 'ContentMismatchError'
}

/**
 * Passes bytes through while hashing them, and errors the stream instead of
 * ending it when the total size or SHA-256 differs from what is expected. It
 * holds back the last chunk until the digest is known, so whoever reads it
 * never sees the end of bad bytes: a store does not commit them, and an HTTP
 * response stays short of its Content-Length (the client sees a failure, not
 * a wrong object).
 */
export function verifyingStream (hashes: Hashes, expected: { sha256: string, size: number }, onMismatch?: (err: ContentMismatchError) => void): TransformStream<Uint8Array, Uint8Array> {
  const hash = hashes.create('sha256')
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
      if (size > expected.size) fail(`Received more than the expected ${expected.size} bytes.`)
      hash.update(chunk)
      if (held !== undefined) controller.enqueue(held)
      held = chunk
    },
    flush (controller) {
      if (size !== expected.size) fail(`Received ${size} of the expected ${expected.size} bytes.`)
      const got = toHex(hash.digest())
      if (got !== expected.sha256) fail(`The bytes hash to ${got}, not the expected ${expected.sha256}.`)
      if (held !== undefined) controller.enqueue(held)
    },
  })
}
