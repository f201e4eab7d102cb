import { toHex, type Hash, type Hashes } from '../hashes.js'
import { concatBytes, drain } from '../streams.js'

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
  const digest = new BodyDigest(hashes, early?.size, onMismatch)
  let held: Uint8Array | undefined
  return new TransformStream({
    transform (chunk, controller) {
      digest.update(chunk)
      if (held !== undefined) controller.enqueue(held)
      held = chunk
    },
    async flush (controller) {
      await digest.check(early ?? await (expected as () => Promise<{ sha256: string, size: number }>)())
      if (held !== undefined) controller.enqueue(held)
    },
  })
}

/**
 * Passes bytes through while hashing them, holding nothing back: the stream
 * ends when the bytes do, and `check` compares them with what is expected
 * afterwards. For a store that commits only once `check` has passed (a
 * replica's copy of a write in progress, whose version comes after its last
 * byte): it can make the bytes durable while it waits for the version.
 */
export function digestingStream (hashes: Hashes): { stream: TransformStream<Uint8Array, Uint8Array>, check: (want: { sha256: string, size: number }, known?: string) => Promise<void> } {
  const digest = new BodyDigest(hashes, undefined)
  return {
    stream: new TransformStream({ transform (chunk, controller) { digest.update(chunk); controller.enqueue(chunk) } }),
    check: async (want, known) => { await digest.check(want, known) },
  }
}

/**
 * digestingStream's check for bytes held as a Blob (a tab's write, given to
 * its store whole): the Blob's size, and its SHA-256 as the caller computed
 * it (`known`), or else as its bytes hash: read at once up to ONE_SHOT_BYTES,
 * a larger Blob as a stream (never all of it in memory).
 */
export function blobDigest (hashes: Hashes, blob: Blob): { check: (want: { sha256: string, size: number }, known?: string) => Promise<void> } {
  return {
    check: async (want, known) => {
      if (blob.size !== want.size) throw new ContentMismatchError(`Received ${blob.size} of the expected ${want.size} bytes.`)
      let got = known
      if (got === undefined && hashes.sha256Of !== undefined && blob.size <= ONE_SHOT_BYTES) got = toHex(await hashes.sha256Of(new Uint8Array(await blob.arrayBuffer())))
      if (got === undefined) got = toHex((await drain(blob.stream(), { hashes, algorithms: ['sha256'], sink: () => {} })).digests.sha256!)
      if (got !== want.sha256) throw new ContentMismatchError(`The bytes hash to ${got}, not the expected ${want.sha256}.`)
    },
  }
}

/** The size and SHA-256 of bytes as they pass, checked against what is expected once they have all passed. */
class BodyDigest {
  // Bytes up to ONE_SHOT_BYTES are kept (not copied) and hashed at the end in one call where the platform has a
  // faster one-shot hash; past that, and elsewhere, they are hashed as they pass. So what reads the stream must not
  // change the chunks it is given (none does: stores copy out of them).
  private kept: Uint8Array[] | undefined
  private hash: Hash | undefined
  private size = 0

  constructor (private readonly hashes: Hashes, private readonly limit: number | undefined, private readonly onMismatch?: (err: ContentMismatchError) => void) {
    this.kept = hashes.sha256Of !== undefined && (limit === undefined || limit <= ONE_SHOT_BYTES) ? [] : undefined
    this.hash = this.kept === undefined ? hashes.create('sha256') : undefined
  }

  update (chunk: Uint8Array): void {
    this.size += chunk.byteLength
    if (this.limit !== undefined && this.size > this.limit) this.fail(`Received more than the expected ${this.limit} bytes.`)
    if (this.kept !== undefined && this.size > ONE_SHOT_BYTES) {
      this.hash = this.hashes.create('sha256')
      for (const k of this.kept) this.hash.update(k)
      this.kept = undefined
    }
    if (this.kept !== undefined) this.kept.push(chunk)
    else this.hash!.update(chunk)
  }

  /** `known`: the bytes' SHA-256 as the caller computed it, taken instead of hashing what was kept (not what was hashed already). */
  async check (want: { sha256: string, size: number }, known?: string): Promise<void> {
    if (this.size !== want.size) this.fail(`Received ${this.size} of the expected ${want.size} bytes.`)
    const got = this.kept !== undefined ? known ?? toHex(await this.hashes.sha256Of!(concatBytes(this.kept, this.size))) : toHex(this.hash!.digest())
    if (got !== want.sha256) this.fail(`The bytes hash to ${got}, not the expected ${want.sha256}.`)
  }

  private fail (message: string): never {
    const err = new ContentMismatchError(message)
    this.onMismatch?.(err)
    throw err
  }
}

/** The largest body kept in memory for a one-shot hash (a tab's writes and reads are mostly smaller). */
const ONE_SHOT_BYTES = 8 * 1024 * 1024
