/** fanOut: every branch sees every chunk, at the pace of the slowest, and a branch that leaves does not stop the others. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fanOut } from '../../src/core/fan-out.js'

/** A source of `count` numbered chunks that records how many were read from it. */
function counted (count: number): { stream: ReadableStream<number>, pulled: () => number } {
  let next = 0
  return {
    stream: new ReadableStream<number>({ pull (c) { if (next === count) c.close(); else c.enqueue(next++) } }, { highWaterMark: 0 }),
    pulled: () => next,
  }
}

async function readAll<T> (s: ReadableStream<T>, delayMs = 0): Promise<T[]> {
  const out: T[] = []
  for await (const v of s as unknown as AsyncIterable<T>) {
    out.push(v)
    if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs))
  }
  return out
}

describe('fanOut', () => {
  it('gives every branch every chunk, in order', async () => {
    const { stream } = counted(50)
    const [a, b, c] = fanOut(stream, 3)
    const all = await Promise.all([readAll(a!), readAll(b!, 1), readAll(c!)])
    const want = Array.from({ length: 50 }, (_, i) => i)
    for (const got of all) assert.deepEqual(got, want)
  })

  it('reads the source at the pace of the slowest branch: nothing piles up for it', async () => {
    const { stream, pulled } = counted(1000)
    const [fast, slow] = fanOut(stream, 2)
    const slowReader = slow!.getReader()
    const fastDone = readAll(fast!)
    // The slow branch reads three chunks and stops; the fast one cannot run ahead.
    for (let i = 0; i < 3; i++) await slowReader.read()
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.ok(pulled() <= 5, `read ${pulled()} chunks from the source while the slow branch had taken 3`)
    slowReader.releaseLock()
    await slow!.cancel()
    assert.equal((await fastDone).length, 1000, 'once the slow branch leaves, the fast one reads the rest')
  })

  it('with a lead, reads ahead of a branch that has not started, up to the lead and no further', async () => {
    let next = 0
    const source = new ReadableStream<Uint8Array>({ pull (c) { if (next === 100) c.close(); else { next++; c.enqueue(new Uint8Array(1000)) } } }, { highWaterMark: 0 })
    const [fast, late] = fanOut(source, 2, { highWaterMark: 10_000, size: c => c.byteLength })
    const fastReader = fast!.getReader()
    // The late branch reads nothing: the fast one still gets the first ten chunks (the lead)...
    for (let i = 0; i < 10; i++) assert.equal((await fastReader.read()).done, false)
    await new Promise(resolve => setTimeout(resolve, 50))
    // ...and no more: the source is not read beyond what the late branch can hold.
    assert.ok(next <= 11, `read ${next} chunks from the source with 10 allowed ahead`)
    const lateDone = readAll(late!)
    const rest: number[] = []
    for (let r = await fastReader.read(); r.done !== true; r = await fastReader.read()) rest.push(r.value.byteLength)
    assert.equal(rest.length, 90)
    assert.equal((await lateDone).length, 100, 'the late branch gets every chunk')
  })

  it('cancels the source only when every branch is cancelled', async () => {
    let cancelled: unknown
    const source = new ReadableStream<number>({ pull (c) { c.enqueue(1) }, cancel (reason) { cancelled = reason } }, { highWaterMark: 0 })
    const [a, b] = fanOut(source, 2)
    await a!.cancel('first')
    assert.equal(cancelled, undefined)
    const r = b!.getReader()
    assert.deepEqual(await r.read(), { done: false, value: 1 })
    await r.cancel('second')
    assert.equal(cancelled, 'second')
  })

  it('errors every branch when the source errors', async () => {
    let sent = false
    const source = new ReadableStream<number>({ pull (c) { if (sent) c.error(new Error('client went away')); else { sent = true; c.enqueue(7) } } }, { highWaterMark: 0 })
    const [a, b] = fanOut(source, 2)
    await Promise.all([a, b].map(async s => await assert.rejects(readAll(s!), /client went away/)))
  })
})
