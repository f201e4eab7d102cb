import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { byteRange, concatBytes, readAll, streamOfBytes } from '../../src/core/streams.js'

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
