/**
 * The browser's WebAssembly hashes (hash-wasm, pooled) give byte for byte what
 * the pure-JavaScript ones give, for every algorithm, across pool reuse, and
 * are the ones in use once ready: the checks run with a fallback that throws,
 * so a quiet fall back to pure JavaScript fails them. Run under node:test and
 * in Chromium (web-test-runner), where browser peers use them.
 */
import assert from 'node:assert/strict'
import { toHex, webHashes, type HashAlgorithm, type Hashes } from '../../src/core/hashes.js'
import { wasmHashes } from '../../src/browser/wasm-hashes.js'

export interface Runner {
  describe: (name: string, fn: () => void) => void
  it: (name: string, fn: () => Promise<void>) => void
}

const ALGORITHMS: HashAlgorithm[] = ['md5', 'sha1', 'sha256', 'crc32', 'crc32c']
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

function random (n: number): Uint8Array {
  const out = new Uint8Array(n)
  // getRandomValues fills at most 64 KiB a call.
  for (let o = 0; o < n; o += 65_536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65_536)))
  return out
}

function digest (hashes: Hashes, algorithm: HashAlgorithm, pieces: Uint8Array[]): string {
  const h = hashes.create(algorithm)
  for (const p of pieces) h.update(p)
  return toHex(h.digest())
}

/** A fallback that counts what it is asked for, or refuses, so a test knows which hashes answered. */
function watchedFallback (refuse: boolean): Hashes & { created: number } {
  const watched = {
    created: 0,
    create: (algorithm: HashAlgorithm) => {
      if (refuse) throw new Error(`the pure-JavaScript ${algorithm} was used: WebAssembly hashing is not in use`)
      watched.created++
      return webHashes.create(algorithm)
    },
    hmacSha256: webHashes.hmacSha256,
    hmacSha1: webHashes.hmacSha1,
  }
  return watched
}

export function wasmHashesSuite (where: string, { describe, it }: Runner): void {
  describe(`wasmHashes (${where})`, () => {
    it('answers with the pure-JavaScript hashes until the WebAssembly ones are ready, with the same digests', async () => {
      const fallback = watchedFallback(false)
      const hashes = wasmHashes(fallback)
      for (const a of ALGORITHMS) assert.equal(digest(hashes, a, [bytes('abc')]), digest(webHashes, a, [bytes('abc')]), `${a} before ready`)
      assert.equal(fallback.created, ALGORITHMS.length, 'before any hasher is made, the fallback answered')
      assert.equal(await hashes.ready(), true, 'WebAssembly hashers were made')
    })

    it('matches the pure-JavaScript hashes for every algorithm, fed in pieces, many times over (pooled hashers are reset), in WebAssembly', async () => {
      const hashes = wasmHashes(watchedFallback(true))
      assert.equal(await hashes.ready(), true, 'WebAssembly hashers were made')
      for (let round = 0; round < 12; round++) {
        const data = random(1 + round * 9973)
        const pieces = [data.subarray(0, 7), data.subarray(7, 5000), data.subarray(5000)]
        for (const a of ALGORITHMS) assert.equal(digest(hashes, a, pieces), digest(webHashes, a, [data]), `${a}, round ${round}`)
      }
      // Known answers, so that both agreeing on something wrong would show.
      assert.equal(digest(hashes, 'md5', [bytes('')]), 'd41d8cd98f00b204e9800998ecf8427e')
      assert.equal(digest(hashes, 'sha256', [bytes('abc')]), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
      assert.equal(digest(hashes, 'crc32c', [bytes('123456789')]), 'e3069283')
      assert.equal(digest(hashes, 'crc32', [bytes('123456789')]), 'cbf43926')
    })

    it('has a one-shot SHA-256 (WebCrypto) that gives the streaming digest, for a view into a larger buffer too', async () => {
      const hashes = wasmHashes(watchedFallback(true))
      assert.ok(hashes.sha256Of !== undefined, 'WebCrypto is there (Node and Chromium both have it)')
      const data = random(300_001)
      const view = data.subarray(1, 300_000)
      assert.equal(toHex(await hashes.sha256Of(view)), digest(webHashes, 'sha256', [view]))
      assert.equal(toHex(await hashes.sha256Of(bytes('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    })

    it('keeps two hashes of one algorithm apart when both are open', async () => {
      const hashes = wasmHashes(watchedFallback(true))
      assert.equal(await hashes.ready(['sha256']), true)
      const a = hashes.create('sha256')
      const b = hashes.create('sha256')
      a.update(bytes('one'))
      b.update(bytes('two'))
      assert.equal(toHex(a.digest()), digest(webHashes, 'sha256', [bytes('one')]))
      assert.equal(toHex(b.digest()), digest(webHashes, 'sha256', [bytes('two')]))
    })
  })
}
