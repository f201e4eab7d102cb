/**
 * The worker's side of the bridge to a page node, in a real Chromium: the
 * page's answer body crosses as a transferred stream, and a page that closes
 * mid-body must fail that body rather than leave the reader waiting forever.
 */
import assert from 'node:assert/strict'
import { askPageNode, type BridgedResponse } from '../../src/browser/bridge.js'

declare const describe: (name: string, fn: () => void) => void
declare const it: (name: string, fn: () => Promise<void>) => void

/** A stand-in for a page node's client: answers each request over its port with `body`, transferred. */
function page (body: () => ReadableStream<Uint8Array>): { postMessage: (message: unknown, transfer: Transferable[]) => void } {
  return {
    postMessage: (_message, transfer) => {
      const port = transfer[0] as MessagePort
      const b = body()
      port.postMessage({ status: 200, statusText: 'OK', headers: [['content-type', 'application/octet-stream']], body: b } satisfies BridgedResponse, [b as unknown as Transferable])
    },
  }
}

/** A body that sends one chunk and then nothing, never ending: what a page that closed mid-body leaves. */
const stalled = (): ReadableStream<Uint8Array> => new ReadableStream({ start (c) { c.enqueue(new Uint8Array([1, 2, 3])) } })

describe('askPageNode', () => {
  it('fails an answer\'s body still being read when the page is given up on, and says the body is settled', async () => {
    const gone = new AbortController()
    let settled = 0
    const res = await askPageNode(page(stalled), new Request('http://x/s3/b/k'), { timeoutMs: 5000, signal: gone.signal, settled: () => { settled++ } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/octet-stream')
    const reader = res.body!.getReader()
    assert.deepEqual([...(await reader.read()).value!], [1, 2, 3])
    assert.equal(settled, 0, 'not settled while the body is being read')
    const next = reader.read()
    // Without the signal, this read would never end: the page's stream has nothing more and does not close.
    const waiting = await Promise.race([next.then(() => 'read', () => 'failed'), new Promise(resolve => setTimeout(() => { resolve('waiting') }, 300))])
    assert.equal(waiting, 'waiting', 'the stalled body waits while the page is there')
    gone.abort(new Error('The page running the mesh node closed.'))
    await assert.rejects(next, /page running the mesh node closed/)
    assert.equal(settled, 1)
  })

  it('passes a whole body through and settles once at its end; a request given up on before the answer settles too', async () => {
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251)
    let settled = 0
    const whole = (): ReadableStream<Uint8Array> => new ReadableStream({
      start (c) {
        for (let at = 0; at < bytes.byteLength; at += 65536) c.enqueue(bytes.slice(at, at + 65536))
        c.close()
      },
    })
    const res = await askPageNode(page(whole), new Request('http://x/s3/b/k'), { timeoutMs: 5000, signal: new AbortController().signal, settled: () => { settled++ } })
    const got = new Uint8Array(await res.arrayBuffer())
    assert.deepEqual(got, bytes)
    assert.equal(settled, 1)

    const never = { postMessage: () => {} }
    const gone = new AbortController()
    let settledEarly = 0
    const asking = askPageNode(never, new Request('http://x/s3/b/k'), { timeoutMs: 5000, signal: gone.signal, settled: () => { settledEarly++ } })
    gone.abort(new Error('closed'))
    await assert.rejects(asking, /closed/)
    assert.equal(settledEarly, 1)
  })
})
