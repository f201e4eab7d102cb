import { checksumHasher, type Checksum, type ChecksumAlgorithm, type ChecksumHasher } from '../../core/checksums.js'
import { S3Error } from '../../core/errors.js'
import { bytesEqual, fromBase64, fromHex, toBase64, toHex, type HashAlgorithm, type Hashes } from '../../core/hashes.js'
import { MAX_PUT_SIZE } from '../../core/multipart.js'
import { streamOfBytes } from '../../core/streams.js'
import type { VerifiedDigests } from '../../core/object-store.js'
import { AwsChunkedDecoder } from './aws-chunked.js'
import { blobBodyOf } from '../blob-bodies.js'
import { UNSIGNED_PAYLOAD, type SignedIdentity } from './sigv4.js'

/** What a body is checked with: the platform's hashes, and CRC64/NVME (the SDKs' own implementation, whose digest is asynchronous). */
type CheckAlgorithm = HashAlgorithm | 'crc64nvme'

/** x-amz-checksum-* algorithms and the hash behind each. */
export const CHECKSUMS: Record<string, CheckAlgorithm> = { crc32: 'crc32', crc32c: 'crc32c', crc64nvme: 'crc64nvme', sha1: 'sha1', sha256: 'sha256' }
const CHECKSUM_LENGTH: Record<CheckAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32, md5: 16 }

function checker (hashes: Hashes, algorithm: CheckAlgorithm): ChecksumHasher {
  return algorithm === 'md5' ? hashes.create('md5') : checksumHasher(hashes, algorithm.toUpperCase() as ChecksumAlgorithm)
}

interface Check {
  algorithm: CheckAlgorithm
  /** An x-amz-checksum-* the client sent: kept with the object once verified. */
  kept?: boolean
  /** The expected digest, or the trailer to read it from at the end. */
  expected: Uint8Array | { trailer: string }
  error: () => S3Error
}

export interface Payload {
  /** The decoded body: verified as it streams; an error surfaces before the final read completes. */
  body: ReadableStream<Uint8Array> | null
  /** The decoded length the client declared, when it did. */
  size?: number
  /** Digests the body is checked against as it streams, for the store to reuse. */
  verified: VerifiedDigests
  /**
   * The client's x-amz-checksum-* (a header, or a trailer once the body has
   * ended), which the body is checked against: a store keeps it.
   */
  checksum: () => Checksum | undefined
  /** The algorithm of that checksum, known before the body. */
  checksumAlgorithm?: ChecksumAlgorithm
  /** The body as the Blob it was made of (blob-bodies.ts), when there is nothing to check it against as it streams. */
  blob?: Blob
}

function checksumName (alg: string): string {
  return alg.toUpperCase()
}

/**
 * Wraps a request body so that what reaches a store is the object's bytes,
 * verified against everything the client declared: the signed SHA-256, the
 * aws-chunked chunk signatures, Content-MD5 and x-amz-checksum-* headers or
 * trailers (not the headers with `checksumHeaders: false`: a completion's
 * are the object's). Verification completes in the stream's final step, so a store,
 * which commits only after reading to the end, never commits a body that fails;
 * the last piece comes only then, so a reader that acts once it has the
 * declared length (a gateway streaming it on) never has all of one either.
 * `body`: the bytes, when they are not the request's own (a form upload's file).
 */
export function decodePayload (request: Request, identity: SignedIdentity | undefined, hashes: Hashes, options: { checksumHeaders?: boolean, body?: ReadableStream<Uint8Array> } = {}): Payload {
  const h = request.headers
  const mode = identity?.payloadHash ?? h.get('x-amz-content-sha256') ?? UNSIGNED_PAYLOAD
  const chunked = mode.startsWith('STREAMING-')
  if (chunked && mode !== 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' && mode !== 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' && mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') {
    throw new S3Error('NotImplemented', `The payload mode ${mode} is not supported.`)
  }
  const signedChunks = chunked && mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
  if (signedChunks && identity === undefined) throw new S3Error('AccessDenied', 'Signed aws-chunked payloads need a signed request.')

  const lengthHeader = chunked ? h.get('x-amz-decoded-content-length') : h.get('content-length')
  if (chunked && lengthHeader === null) throw new S3Error('MissingContentLength', 'aws-chunked uploads must send x-amz-decoded-content-length.')
  let size: number | undefined
  if (lengthHeader !== null) {
    if (!/^\d+$/.test(lengthHeader)) throw new S3Error('InvalidArgument', 'The content length must be a non-negative integer.')
    size = Number(lengthHeader)
    refuseOverMax(size, lengthHeader)
  }

  const checks: Check[] = []
  if (!chunked && mode !== UNSIGNED_PAYLOAD) {
    const expected = fromHex(mode)
    if (expected === undefined || expected.length !== 32) throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* mode.')
    checks.push({ algorithm: 'sha256', expected, error: () => new S3Error('XAmzContentSHA256Mismatch') })
  }
  const md5 = h.get('content-md5')
  if (md5 !== null) {
    const expected = fromBase64(md5)
    if (expected === undefined || expected.length !== 16) throw new S3Error('InvalidDigest')
    checks.push({ algorithm: 'md5', expected, error: () => new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.') })
  }
  for (const [name, algorithm] of options.checksumHeaders === false ? [] : Object.entries(CHECKSUMS)) {
    const value = h.get(`x-amz-checksum-${name}`)
    if (value === null) continue
    const expected = fromBase64(value)
    if (expected === undefined || expected.length !== CHECKSUM_LENGTH[algorithm]) {
      throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${name} header is invalid.`)
    }
    checks.push({ algorithm, kept: true, expected, error: () => new S3Error('BadDigest', `The ${checksumName(name)} you specified did not match the calculated checksum.`) })
  }
  const trailer = h.get('x-amz-trailer')?.trim().toLowerCase()
  if (trailer !== undefined && trailer !== '') {
    const alg = /^x-amz-checksum-([a-z0-9]+)$/.exec(trailer)?.[1]
    const algorithm = alg !== undefined && Object.hasOwn(CHECKSUMS, alg) ? CHECKSUMS[alg] : undefined
    if (!chunked) throw new S3Error('InvalidRequest', 'x-amz-trailer needs an aws-chunked body.')
    if (algorithm === undefined) throw new S3Error('InvalidRequest', `The trailer ${trailer} is not supported.`)
    checks.push({ algorithm, kept: true, expected: { trailer }, error: () => new S3Error('BadDigest', `The ${checksumName(alg!)} you specified did not match the calculated checksum.`) })
  }
  const sent = checks.filter(c => c.kept === true)
  if (sent.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.')
  /** The sent checksum's digest: at once from a header, from the trailer once the body has ended. */
  let sentDigest = sent[0]?.expected instanceof Uint8Array ? sent[0].expected : undefined
  const checksumAlgorithm = sent[0]?.algorithm.toUpperCase() as ChecksumAlgorithm | undefined
  const checksum = (): Checksum | undefined => sentDigest === undefined ? undefined : { algorithm: checksumAlgorithm!, value: toBase64(sentDigest) }
  const declared = checksumAlgorithm === undefined ? {} : { checksumAlgorithm }

  const verified: VerifiedDigests = {}
  for (const c of checks) {
    if (c.expected instanceof Uint8Array && (c.algorithm === 'md5' || c.algorithm === 'sha256')) verified[c.algorithm] = toHex(c.expected)
  }
  // An empty body is checked too (a Content-MD5 or checksum of nothing must be that of nothing).
  const raw = options.body ?? request.body ?? (checks.length > 0 || chunked ? streamOfBytes(new Uint8Array(0)) : null)
  if (raw === null) return { body: null, size, verified, checksum, ...declared }
  const blob = chunked || checks.length > 0 || options.body !== undefined ? undefined : blobBodyOf(request)
  if (blob !== undefined && (size === undefined || size === blob.size)) {
    refuseOverMax(blob.size)
    return { body: raw, size: blob.size, verified, checksum, blob, ...declared }
  }
  if (!chunked && checks.length === 0 && size !== undefined) return { body: raw, size, verified, checksum, ...declared }

  const decoder = chunked ? new AwsChunkedDecoder(hashes, signedChunks ? identity : undefined) : undefined
  const hashers: Array<[Check, ChecksumHasher]> = checks.map(c => [c, checker(hashes, c.algorithm)])
  let total = 0
  const limit = size ?? MAX_PUT_SIZE
  // The last piece is held back until every check has passed: a reader that acts once it has the declared length (a
  // gateway streaming the body on to a node, which commits then) must not have all of a body that fails.
  let held: Uint8Array | undefined
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    transform (chunk, controller) {
      const pass = (data: Uint8Array): void => {
        // (An empty piece would let the held one go before the checks.)
        if (data.byteLength === 0) return
        total += data.byteLength
        if (total > limit) throw size === undefined ? new S3Error('EntityTooLarge') : new S3Error('IncompleteBody', `The body is longer than the declared ${size} bytes.`)
        for (const [, hash] of hashers) hash.update(data)
        if (held !== undefined) controller.enqueue(held)
        held = data
      }
      if (decoder !== undefined) decoder.push(chunk, pass)
      else pass(chunk)
    },
    async flush (controller) {
      decoder?.end()
      // Shorter than declared: a reader that takes the whole body (an XML document's) would not tell.
      if (size !== undefined && total !== size) throw new S3Error('IncompleteBody', `The body is ${total} bytes, not the declared ${size}.`)
      for (const [check, hash] of hashers) {
        let expected = check.expected
        if (!(expected instanceof Uint8Array)) {
          const value = decoder?.trailers.get(expected.trailer)
          const bytes = value === undefined ? undefined : fromBase64(value)
          if (bytes === undefined) throw new S3Error('InvalidRequest', `The declared trailer ${expected.trailer} is missing or malformed.`)
          expected = bytes
        }
        const actual = await hash.digest()
        if (!bytesEqual(actual, expected)) {
          const err = check.error()
          throw new S3Error(err.code, err.message, { detail: { CalculatedChecksum: toBase64(actual) } })
        }
        if (check.kept === true) sentDigest = expected
      }
      if (held !== undefined) controller.enqueue(held)
    },
  })
  return { body: raw.pipeThrough(transform), size, verified, checksum, ...declared }
}

/** EntityTooLarge for a body of more than a PUT may be (`proposed`: its size as the request gave it). */
function refuseOverMax (size: number, proposed = String(size)): void {
  if (size > MAX_PUT_SIZE) throw new S3Error('EntityTooLarge', undefined, { detail: { ProposedSize: proposed, MaxSizeAllowed: String(MAX_PUT_SIZE) } })
}
