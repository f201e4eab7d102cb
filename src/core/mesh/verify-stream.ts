import { toHex, type Hashes } from '../hashes.js'

/** Bytes that did not hash to what the catalog says: the holder that sent them is skipped. */
export class ContentMismatchError extends Error {
  override name = 'ContentMismatchError'
}

/**
 * Passes bytes through while hashing them, and errors the stream instead of
 * ending it when the total size or SHA-256 differs from what is expected. A
 * store that writes from this stream therefore never commits bad bytes: it
 * sees an error before it sees the end.
 */
export function verifyingStream (hashes: Hashes, expected: { sha256: string, size: number }): TransformStream<Uint8Array, Uint8Array> {
  const hash = hashes.create('sha256')
  let size = 0
  return new TransformStream({
    transform (chunk, controller) {
      size += chunk.byteLength
      if (size > expected.size) throw new ContentMismatchError(`Received more than the expected ${expected.size} bytes.`)
      hash.update(chunk)
      controller.enqueue(chunk)
    },
    flush () {
      if (size !== expected.size) throw new ContentMismatchError(`Received ${size} of the expected ${expected.size} bytes.`)
      const got = toHex(hash.digest())
      if (got !== expected.sha256) throw new ContentMismatchError(`The bytes hash to ${got}, not the expected ${expected.sha256}.`)
    },
  })
}
