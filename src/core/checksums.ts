import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { S3Error } from './errors.js'
import { fromBase64, toBase64, type Hashes } from './hashes.js'

/**
 * S3's additional checksums (x-amz-checksum-*), kept with an object once a
 * store has verified them, and those of a multipart object made from its
 * parts': https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */

export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256'
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256']

/**
 * FULL_OBJECT: the checksum of the whole content. COMPOSITE: a multipart
 * object's checksum of its parts' checksums, suffixed `-N` (N parts).
 */
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE'

/** A checksum of some bytes, as the client sent it (base64 of the digest). */
export interface Checksum {
  algorithm: ChecksumAlgorithm
  value: string
}

/** An object's checksum, returned with GET/HEAD when the client asks (`x-amz-checksum-mode: ENABLED`). */
export interface ObjectChecksum extends Checksum {
  type: ChecksumType
}

/** What a multipart upload's parts are checked with, named when it was created. */
export interface ChecksumPlan {
  algorithm: ChecksumAlgorithm
  type: ChecksumType
}

/** The header that carries an algorithm's value, as `x-amz-checksum-crc32`. */
export function checksumHeader (algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`
}

/** The XML element that carries an algorithm's value, as `ChecksumCRC32`. */
export function checksumElement (algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`
}

/** Digest length in bytes. */
export const CHECKSUM_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 }

/** The only type S3 allows for each algorithm's multipart uploads, when it allows one; otherwise the default. */
const CRC_FULL = new Set<ChecksumAlgorithm>(['CRC32', 'CRC32C', 'CRC64NVME'])

/**
 * A CreateMultipartUpload's `x-amz-checksum-algorithm` and
 * `x-amz-checksum-type`, checked as S3 checks them: SHA-1 and SHA-256 are
 * composite only, CRC64/NVME full-object only, CRC32 and CRC32C either
 * (composite by default).
 */
export function checksumPlan (algorithm: string | null, type: string | null): ChecksumPlan | undefined {
  if (algorithm === null) {
    if (type !== null) throw new S3Error('InvalidRequest', 'x-amz-checksum-type needs x-amz-checksum-algorithm.')
    return undefined
  }
  const a = algorithm.toUpperCase() as ChecksumAlgorithm
  if (!CHECKSUM_ALGORITHMS.includes(a)) throw new S3Error('InvalidRequest', `Checksum algorithm ${algorithm} is not one of ${CHECKSUM_ALGORITHMS.join(', ')}.`)
  const t = type === null ? (a === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE') : type.toUpperCase()
  if (t !== 'FULL_OBJECT' && t !== 'COMPOSITE') throw new S3Error('InvalidRequest', `Checksum type ${type} is not FULL_OBJECT or COMPOSITE.`)
  if (t === 'FULL_OBJECT' && !CRC_FULL.has(a)) throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${a} checksum algorithm.`)
  if (t === 'COMPOSITE' && a === 'CRC64NVME') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.')
  return { algorithm: a, type: t }
}

/** An incremental checksum whose digest may be asynchronous. */
export interface ChecksumHasher {
  update (data: Uint8Array): void
  digest (): Uint8Array | Promise<Uint8Array>
}

/** A hasher for `algorithm`: the platform's, and for CRC64/NVME the AWS SDK's own implementation (its digest is asynchronous). */
export function checksumHasher (hashes: Hashes, algorithm: ChecksumAlgorithm): ChecksumHasher {
  return algorithm === 'CRC64NVME' ? new Crc64Nvme() : hashes.create(algorithm.toLowerCase() as 'crc32' | 'crc32c' | 'sha1' | 'sha256')
}

/** The digest of `data` with `algorithm`. */
async function digest (hashes: Hashes, algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<Uint8Array> {
  const h = checksumHasher(hashes, algorithm)
  h.update(data)
  return await h.digest()
}

/** A part as a multipart object's checksum needs it. */
export interface ChecksummedPart {
  partNumber: number
  size: number
  checksum?: Checksum
}

/**
 * A completed multipart object's checksum from its parts', as S3 makes it:
 * COMPOSITE is the algorithm over the parts' digests one after another,
 * then `-N`; FULL_OBJECT is the CRC of the whole content, combined from the
 * parts' CRCs and sizes without reading a byte. Every part must have been
 * sent with the plan's algorithm.
 */
export async function multipartChecksum (hashes: Hashes, plan: ChecksumPlan, parts: readonly ChecksummedPart[]): Promise<ObjectChecksum> {
  const digests: Uint8Array[] = []
  for (const p of parts) {
    if (p.checksum?.algorithm !== plan.algorithm) {
      throw new S3Error('InvalidRequest', `The upload was created using a ${plan.algorithm.toLowerCase()} checksum. The complete request must include the checksum for each part. It was missing for part ${p.partNumber} in the request.`)
    }
    digests.push(fromBase64(p.checksum.value)!)
  }
  if (plan.type === 'COMPOSITE') {
    const joined = new Uint8Array(digests.reduce((n, d) => n + d.byteLength, 0))
    let at = 0
    for (const d of digests) { joined.set(d, at); at += d.byteLength }
    return { ...plan, value: `${toBase64(await digest(hashes, plan.algorithm, joined))}-${parts.length}` }
  }
  const crc = CRC[plan.algorithm as 'CRC32' | 'CRC32C' | 'CRC64NVME']
  let whole = bigOf(digests[0]!)
  for (let i = 1; i < parts.length; i++) whole = crc.combine(whole, bigOf(digests[i]!), parts[i]!.size)
  return { ...plan, value: toBase64(bytesOf(whole, CHECKSUM_BYTES[plan.algorithm])) }
}

/**
 * Combines CRCs without the data: crc(A + B) from crc(A), crc(B) and B's
 * length, as zlib's crc32_combine does (multiplication modulo the reflected
 * polynomial by x^(8 * length)), for any reflected CRC whose initial value
 * and final XOR are all ones (CRC32, CRC32C, CRC64/NVME).
 */
class CrcCombiner {
  private readonly top: bigint
  /** x^(2^k) mod p for k = 0, 1, ...: grown as lengths need. */
  private readonly powers: bigint[]

  constructor (private readonly poly: bigint, width: number) {
    this.top = 1n << BigInt(width - 1)
    this.powers = [this.top >> 1n]
  }

  private multiply (a: bigint, b: bigint): bigint {
    let m = this.top
    let p = 0n
    for (;;) {
      if ((a & m) !== 0n) {
        p ^= b
        if ((a & (m - 1n)) === 0n) break
      }
      m >>= 1n
      b = (b & 1n) !== 0n ? (b >> 1n) ^ this.poly : b >> 1n
    }
    return p
  }

  /** x^(n * 2^k) mod p. */
  private power (n: bigint, k: number): bigint {
    let p = this.top
    while (n > 0n) {
      if ((n & 1n) !== 0n) {
        while (this.powers.length <= k) this.powers.push(this.multiply(this.powers.at(-1)!, this.powers.at(-1)!))
        p = this.multiply(this.powers[k]!, p)
      }
      n >>= 1n
      k++
    }
    return p
  }

  combine (crcA: bigint, crcB: bigint, lengthB: number): bigint {
    return this.multiply(this.power(BigInt(lengthB), 3), crcA) ^ crcB
  }
}

const CRC = {
  CRC32: new CrcCombiner(0xedb88320n, 32),
  CRC32C: new CrcCombiner(0x82f63b78n, 32),
  CRC64NVME: new CrcCombiner(0x9a6c9329ac4bc9b5n, 64),
}

/** Big-endian bytes as a number (S3 sends CRCs big-endian). */
function bigOf (bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

function bytesOf (n: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = length - 1; i >= 0; i--) { out[i] = Number(n & 0xffn); n >>= 8n }
  return out
}

/**
 * A multipart object's part sizes, in part order, as runs of [size, count]:
 * parts are nearly always of one size but the last, so 10,000 parts take two
 * pairs (the catalog carries this with every version).
 */
export type PartSizes = Array<[number, number]>

export function partSizesOf (sizes: readonly number[]): PartSizes {
  const runs: PartSizes = []
  for (const s of sizes) {
    const last = runs.at(-1)
    if (last !== undefined && last[0] === s) last[1]++
    else runs.push([s, 1])
  }
  return runs
}

/** Part `n`'s bytes (1-based) as an inclusive range; undefined past the last part. */
export function partRange (runs: PartSizes, n: number): { start: number, end: number, size: number } | undefined {
  let start = 0
  let first = 1
  for (const [size, count] of runs) {
    if (n < first + count) {
      const at = start + (n - first) * size
      return { start: at, end: at + size - 1, size }
    }
    start += size * count
    first += count
  }
  return undefined
}

/** The part count of runs. */
export function partCount (runs: PartSizes): number {
  return runs.reduce((n, [, c]) => n + c, 0)
}

/**
 * A part's body that works out the upload's checksum as it streams, for a
 * part the client sent without one (an UploadPartCopy, or a client that
 * declared none): read once the body has ended. A part whose client declared
 * a checksum keeps the client's (checked on the way in).
 */
export function plannedChecksum (hashes: Hashes, plan: ChecksumPlan | undefined, body: ReadableStream<Uint8Array>, options: { checksum?: () => Checksum | undefined, checksumAlgorithm?: ChecksumAlgorithm }): { body: ReadableStream<Uint8Array>, checksum?: () => Checksum | undefined } {
  // A part of another algorithm than its upload's is refused as it arrives, as S3 does, not at the completion (which
  // would then want the part sent again).
  if (plan !== undefined && options.checksumAlgorithm !== undefined && options.checksumAlgorithm !== plan.algorithm) {
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${plan.algorithm.toLowerCase()}, actual checksum Type: ${options.checksumAlgorithm.toLowerCase()}`)
  }
  if (plan === undefined || options.checksumAlgorithm !== undefined) return { body, ...(options.checksum === undefined ? {} : { checksum: options.checksum }) }
  const h = checksumHasher(hashes, plan.algorithm)
  let value: string | undefined
  const summed = body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform (chunk, controller) { h.update(chunk); controller.enqueue(chunk) },
    async flush () { value = toBase64(await h.digest()) },
  }))
  return { body: summed, checksum: () => value === undefined ? undefined : { algorithm: plan.algorithm, value } }
}
