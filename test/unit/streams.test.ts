import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import type { Hashes } from '../../src/core/hashes.js'
import { ContentMismatchError, verifyingStream } from '../../src/core/mesh/verify-stream.js'
import { byteRange, concatBytes, readAll, streamOfBytes } from '../../src/core/streams.js'
import { nodeHashes } from '../../src/node/node-hashes.js'

describe('byteRange', () => {
  it('passes on exactly bytes start to end of a stream, however it is chunked (property)', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 64 }), fc.nat(), fc.nat(), async (bytes, chunk, a, b) => {
      const start = a % bytes.length
      const end = start + (b % (bytes.length - start))
      const got = await readAll(streamOfBytes(bytes, chunk).pipeThrough(byteRange(start, end)), 1000)
      assert.deepEqual(got, bytes.subarray(start, end + 1))
    }))
  })

  it('stops reading what is upstream once the range is passed', async () => {
    let pulled = 0
    const chunks = Array.from({ length: 100 }, () => new Uint8Array(10))
    const source = new ReadableStream<Uint8Array>({ pull: c => { const next = chunks[pulled++]; if (next === undefined) c.close(); else c.enqueue(next) } }, { highWaterMark: 0 })
    const got = await readAll(source.pipeThrough(byteRange(5, 24)), 1000)
    assert.deepEqual(got, concatBytes([new Uint8Array(20)]))
    assert.ok(pulled < 10, `read ${pulled} chunks of 100`)
  })
})

describe('verifyingStream', () => {
  const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
  // A platform with a one-shot SHA-256 (as browsers have WebCrypto's), counting its calls; and one without.
  let oneShots = 0
  const withOneShot: Hashes = { ...nodeHashes, sha256Of: async data => { oneShots++; return new Uint8Array(createHash('sha256').update(data).digest()) } }

  for (const [name, hashes] of [['streaming', nodeHashes], ['one-shot', withOneShot]] as const) {
    it(`${name}: passes good bytes through whole, known early or late, and fails bad ones before their end`, async () => {
      const body = bytes(200_000)
      for (const expected of [{ sha256: sha(body), size: body.length }, async () => ({ sha256: sha(body), size: body.length })]) {
        assert.deepEqual(await readAll(streamOfBytes(body, 65536).pipeThrough(verifyingStream(hashes, expected)), 1 << 20), body)
      }
      const bad = bytes(200_000, 2)
      const mismatches: ContentMismatchError[] = []
      await assert.rejects(readAll(streamOfBytes(bad, 65536).pipeThrough(verifyingStream(hashes, { sha256: sha(body), size: body.length }, e => { mismatches.push(e) })), 1 << 20), ContentMismatchError)
      await assert.rejects(readAll(streamOfBytes(body, 65536).pipeThrough(verifyingStream(hashes, async () => ({ sha256: sha(body), size: body.length + 1 }))), 1 << 20), /Received 200000 of the expected 200001 bytes/)
      assert.equal(mismatches.length, 1)
    })
  }

  it('hashes in one call up to 8 MiB where the platform can, and streams what is larger (switching once it knows)', async () => {
    oneShots = 0
    const small = bytes(1 << 20)
    await readAll(streamOfBytes(small, 65536).pipeThrough(verifyingStream(withOneShot, { sha256: sha(small), size: small.length })), 1 << 21)
    assert.equal(oneShots, 1, 'a 1 MiB body: one call')
    const large = bytes(9 << 20)
    await readAll(streamOfBytes(large, 1 << 20).pipeThrough(verifyingStream(withOneShot, async () => ({ sha256: sha(large), size: large.length }))), 10 << 20)
    await assert.rejects(readAll(streamOfBytes(large, 1 << 20).pipeThrough(verifyingStream(withOneShot, async () => ({ sha256: sha(small), size: large.length }))), 10 << 20), ContentMismatchError)
    assert.equal(oneShots, 1, 'a 9 MiB body of unknown size: streamed once past 8 MiB, still checked')
  })
})
