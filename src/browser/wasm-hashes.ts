import { createCRC32, createMD5, createSHA1, createSHA256, type IHasher } from 'hash-wasm'
import { webHashes, type Hash, type HashAlgorithm, type Hashes } from '../core/hashes.js'

/** CRC-32C's polynomial (reversed), for hash-wasm's CRC-32 with another polynomial. */
const CASTAGNOLI = 0x82F63B78

const FACTORIES: Record<HashAlgorithm, () => Promise<IHasher>> = {
  md5: createMD5,
  sha1: createSHA1,
  sha256: createSHA256,
  crc32: async () => await createCRC32(),
  crc32c: async () => await createCRC32(CASTAGNOLI),
}

/** Hashers kept ready per algorithm: enough for a few uploads at once, a few hundred KB of WebAssembly memory in all. */
const POOL_SIZE = 4

/**
 * hash-wasm's hashers are made asynchronously (each is a WebAssembly instance)
 * but the Hashes interface hands them out synchronously: a few are kept made,
 * refilled as they are taken, and reused once digested.
 */
class HasherPool {
  private readonly free: IHasher[] = []
  /** The fill in progress, if any. */
  private filling: Promise<void> | undefined
  /** WebAssembly may be refused (a page whose CSP lacks 'wasm-unsafe-eval'): then the pool stays empty for good. */
  private refused = false

  constructor (private readonly make: () => Promise<IHasher>) {
    this.fill()
  }

  /** Resolves true once a hasher is ready, false if WebAssembly was refused. */
  async ready (): Promise<boolean> {
    while (this.free.length === 0 && !this.refused) {
      this.fill()
      await this.filling
    }
    return !this.refused
  }

  take (): IHasher | undefined {
    const hasher = this.free.pop()
    if (this.free.length < POOL_SIZE / 2) this.fill()
    return hasher
  }

  give (hasher: IHasher): void {
    if (this.free.length < POOL_SIZE) this.free.push(hasher)
  }

  private fill (): void {
    if (this.filling !== undefined || this.refused) return
    this.filling = (async () => {
      try {
        while (this.free.length < POOL_SIZE) this.free.push(await this.make())
      } catch {
        this.refused = true
      } finally {
        this.filling = undefined
      }
    })()
  }
}

export interface WasmHashes extends Hashes {
  /**
   * Resolves true once every named algorithm (default: all) has a WebAssembly
   * hasher ready, false if WebAssembly was refused. Until then `create` may
   * hand out the fallback's hashes.
   */
  ready: (algorithms?: HashAlgorithm[]) => Promise<boolean>
}

/**
 * Hashing in WebAssembly (hash-wasm) for browsers: several times faster than
 * the pure-JavaScript defaults (bench:browser measures each), which a browser peer
 * pays on every write (MD5 for the ETag, SHA-256 for the mesh). Falls back to
 * those defaults while no hasher is ready or where WebAssembly is not allowed.
 * Not for edge workers: Cloudflare's refuses to compile WebAssembly at run time.
 */
export function wasmHashes (fallback: Hashes = webHashes): WasmHashes {
  const pools = new Map<HashAlgorithm, HasherPool>()
  const pool = (algorithm: HashAlgorithm): HasherPool => {
    let p = pools.get(algorithm)
    if (p === undefined) pools.set(algorithm, p = new HasherPool(FACTORIES[algorithm]))
    return p
  }
  // The ones every write uses, made at once.
  pool('md5')
  pool('sha256')
  return {
    async ready (algorithms = Object.keys(FACTORIES) as HashAlgorithm[]) {
      const ready = await Promise.all(algorithms.map(async a => await pool(a).ready()))
      return ready.every(Boolean)
    },
    create (algorithm): Hash {
      const p = pool(algorithm)
      const hasher = p.take()
      if (hasher === undefined) return fallback.create(algorithm)
      hasher.init()
      return {
        update (data) { hasher.update(data) },
        digest () {
          const out = hasher.digest('binary')
          p.give(hasher)
          return out
        },
      }
    },
    // Short inputs (SigV4 keys): not worth a WebAssembly call.
    hmacSha256: (key, data) => fallback.hmacSha256(key, data),
    hmacSha1: (key, data) => fallback.hmacSha1(key, data),
    ...(typeof crypto === 'object' && crypto.subtle !== undefined ? { sha256Of: webCryptoSha256 } : {}),
  }
}

/** WebCrypto's SHA-256 (a secure context's; about 3x hash-wasm's streaming speed in Chromium, by hand). */
async function webCryptoSha256 (data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))
}

/** One set for the whole page or worker. */
export const browserHashes: Hashes = typeof WebAssembly === 'object' ? wasmHashes() : webHashes
