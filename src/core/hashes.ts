import { md5, sha1 } from '@noble/hashes/legacy'
import { sha256 } from '@noble/hashes/sha2'
import { hmac } from '@noble/hashes/hmac'
import { Crc32 } from '@aws-crypto/crc32'
import { Crc32c } from '@aws-crypto/crc32c'

/** Every digest s3mesh computes: ETags (md5), content hashes and SigV4 (sha256), and the checksums AWS SDKs send. */
export type HashAlgorithm = 'md5' | 'sha1' | 'sha256' | 'crc32' | 'crc32c'

/** An incremental hash: feed it bytes, then take the digest once. */
export interface Hash {
  update (data: Uint8Array): void
  digest (): Uint8Array
}

/**
 * The hashing a platform provides. The default below is pure JavaScript and runs
 * anywhere (browsers, service workers, workerd); the Node adapter passes one
 * backed by node:crypto, which is several times faster.
 */
export interface Hashes {
  create (algorithm: HashAlgorithm): Hash
  hmacSha256 (key: Uint8Array, data: Uint8Array): Uint8Array
  /** Only for SigV2 presigned URLs, which older tools (s3cmd signurl) still produce. */
  hmacSha1 (key: Uint8Array, data: Uint8Array): Uint8Array
  /**
   * SHA-256 of bytes in memory in one call, where the platform has a faster
   * way than `create` (browsers: WebCrypto, native code, several times
   * WebAssembly's speed, but not incremental). Absent: stream with `create`.
   */
  sha256Of? (data: Uint8Array): Promise<Uint8Array>
}

/** A CRC's 32-bit value as the 4 big-endian bytes that x-amz-checksum-crc32(c) carry. */
export function uint32Bytes (n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}

function crc (Impl: typeof Crc32 | typeof Crc32c): Hash {
  const c = new Impl()
  return {
    update (data) { c.update(data) },
    digest () { return uint32Bytes(c.digest()) },
  }
}

export const webHashes: Hashes = {
  create (algorithm) {
    switch (algorithm) {
      case 'md5': return md5.create()
      case 'sha1': return sha1.create()
      case 'sha256': return sha256.create()
      case 'crc32': return crc(Crc32)
      case 'crc32c': return crc(Crc32c)
    }
  },
  hmacSha256 (key, data) { return hmac(sha256, key, data) },
  hmacSha1 (key, data) { return hmac(sha1, key, data) },
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Digests as hex, for those present. */
export function hexDigests (digests: Partial<Record<string, Uint8Array>>): { md5?: string, sha256?: string } {
  return {
    ...(digests.md5 === undefined ? {} : { md5: toHex(digests.md5) }),
    ...(digests.sha256 === undefined ? {} : { sha256: toHex(digests.sha256) }),
  }
}

export function toHex (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!]
  return s
}

export function fromHex (hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

export function toBase64 (bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!)
  return btoa(s)
}

/** Decodes standard base64; undefined when `text` is not valid base64. */
export function fromBase64 (text: string): Uint8Array | undefined {
  try {
    const s = atob(text)
    const out = new Uint8Array(s.length)
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
    return out
  } catch {
    return undefined
  }
}

const encoder = new TextEncoder()
export function utf8 (s: string): Uint8Array {
  return encoder.encode(s)
}

/** Hashes a whole buffer or string in one call. */
export function digestOf (hashes: Hashes, algorithm: HashAlgorithm, data: Uint8Array | string): Uint8Array {
  const h = hashes.create(algorithm)
  h.update(typeof data === 'string' ? utf8(data) : data)
  return h.digest()
}

export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
