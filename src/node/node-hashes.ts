import { createHash, createHmac } from 'node:crypto'
import * as zlib from 'node:zlib'
import { uint32Bytes, webHashes, type Hash, type Hashes } from '../core/hashes.js'

// zlib.crc32 arrived in Node 20.15 and 22.2: native when there, pure JS otherwise.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

function crc32 (): Hash {
  let value = 0
  return {
    update (data) { value = nativeCrc32!(data, value) },
    digest () { return uint32Bytes(value) },
  }
}

/** Hashes backed by OpenSSL through node:crypto: several times faster than pure JS for MD5 and SHA-256. */
export const nodeHashes: Hashes = {
  create (algorithm) {
    switch (algorithm) {
      case 'md5':
      case 'sha1':
      case 'sha256': return createHash(algorithm)
      case 'crc32': return nativeCrc32 !== undefined ? crc32() : webHashes.create('crc32')
      case 'crc32c': return webHashes.create('crc32c')
    }
  },
  hmacSha256 (key, data) { return createHmac('sha256', key).update(data).digest() },
  hmacSha1 (key, data) { return createHmac('sha1', key).update(data).digest() },
}
