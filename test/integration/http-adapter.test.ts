/**
 * The Node HTTP adapter under clients that stop half-way through a request
 * body, over real sockets to a real node:http server running the S3 handler:
 * one that goes silent is answered 400 RequestTimeout and its connection
 * closed; one that resets is counted as the client's failure (400
 * IncompleteBody), not the server's (500). Neither leaves an object.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { MemoryStore } from '../../src/core/memory-store.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { expectsContinue, toNodeListener, type Exchange } from '../../src/node/http-adapter.js'
import { createS3Handler } from '../../src/s3-shim/index.js'
import { errorCode } from '../helpers/s3-client.js'

const IDLE_MS = 400
const sign = s3Signer({ accessKeyId: 'AK', secretAccessKey: 'SECRET-KEY' })

describe('request bodies that stop half-way', () => {
  const store = new MemoryStore()
  const exchanges: Exchange[] = []
  let server: Server
  let port: number

  before(async () => {
    await store.createBucket('bodies')
    const s3 = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    // A handler slow to ask for the body (an arbiter's lease, a lookup): keys named late-* wait twice the idle time first.
    const handler: typeof s3 = async (request, info) => {
      if (new URL(request.url).pathname.includes('/late-')) await new Promise(resolve => setTimeout(resolve, IDLE_MS * 2))
      return await s3(request, info)
    }
    const listener = toNodeListener(handler, { bodyIdleMs: IDLE_MS, onExchange: e => { exchanges.push(e) } })
    server = createServer(listener)
    // As the server does: Expect: 100-continue is answered when the handler first reads the body.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => { expectsContinue(req); listener(req, res) })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  after(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })

  /** A presigned PUT of `declared` bytes, opened on a raw socket with `sent` of them written (none yet, with `expect`). */
  async function startPut (key: string, declared: number, sent: number, expect = false): Promise<{ socket: ReturnType<typeof connect>, answer: Promise<{ text: string, closedAt: number }> }> {
    const url = new URL((await sign.sign(`http://127.0.0.1:${port}/bodies/${key}?X-Amz-Expires=60`, { method: 'PUT', aws: { signQuery: true } } as never)).url)
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>(resolve => socket.once('connect', resolve))
    socket.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: ${declared}\r\n${expect ? 'Expect: 100-continue\r\n' : ''}\r\n`)
    if (sent > 0) socket.write(Buffer.alloc(sent, 7))
    let text = ''
    socket.on('data', d => { text += d.toString() })
    const answer = new Promise<{ text: string, closedAt: number }>(resolve => { socket.once('close', () => { resolve({ text, closedAt: performance.now() }) }) })
    socket.on('error', () => {})
    return { socket, answer }
  }

  it('a client that goes silent mid-body is answered 400 RequestTimeout, its connection closed, nothing stored', async () => {
    const started = performance.now()
    const { socket, answer } = await startPut('silent', 100, 10)
    // The client never sends the other 90 bytes, nor closes: the server must.
    const timer = setTimeout(() => { socket.destroy() }, IDLE_MS * 20)
    const { text, closedAt } = await answer
    clearTimeout(timer)
    assert.match(text, /^HTTP\/1\.1 400 /, 'answered before the test gave up on it')
    assert.equal(errorCode(text.slice(text.indexOf('\r\n\r\n') + 4)), 'RequestTimeout')
    assert.match(text, /\r\nconnection: close\r\n/i)
    assert.ok(closedAt - started >= IDLE_MS, `not before the body had been silent for ${IDLE_MS} ms`)
    await assert.rejects(store.headObject('bodies', 'silent'), { code: 'NoSuchKey' })
    assert.equal(exchanges.at(-1)?.status, 400)
  })

  it('a client that resets mid-body is counted as 400 IncompleteBody, not as a server error, and nothing is stored', async () => {
    const before = exchanges.length
    const { socket, answer } = await startPut('reset', 1_000_000, 200_000)
    await new Promise(resolve => setTimeout(resolve, 50))
    socket.resetAndDestroy()
    await answer
    const deadline = Date.now() + 5_000
    while (exchanges.length === before && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    assert.equal(exchanges.length, before + 1, 'the exchange was counted')
    assert.equal(exchanges.at(-1)!.status, 400)
    await assert.rejects(store.headObject('bodies', 'reset'), { code: 'NoSuchKey' })
  })

  it('a client waiting for 100 Continue is not timed out while the handler has not asked for the body', async () => {
    const { socket, answer } = await startPut('late-continue', 5, 0, true)
    const next = async (): Promise<string> => await new Promise<string>(resolve => {
      const timer = setTimeout(() => { resolve('(nothing)') }, IDLE_MS * 10)
      socket.once('data', d => { clearTimeout(timer); resolve(d.toString()) })
    })
    const continued = await next()
    assert.match(continued, /^HTTP\/1\.1 100 Continue/, 'asked for the body, after the handler\'s wait of twice the idle time')
    const answered = next()
    socket.write(Buffer.alloc(5, 7))
    const head = await answered
    socket.end()
    await answer
    assert.match(head, /^HTTP\/1\.1 200 /, head)
    assert.equal((await store.headObject('bodies', 'late-continue')).size, 5)
  })

  it('a body that keeps coming, however slowly, is not cut off', async () => {
    const { socket, answer } = await startPut('slow', 6, 1)
    // Five more bytes, each after most of the idle time: the whole takes far longer than the idle time.
    for (let i = 0; i < 5; i++) {
      await new Promise(resolve => setTimeout(resolve, IDLE_MS * 0.6))
      socket.write(Buffer.alloc(1, 7))
    }
    const head = await new Promise<string>(resolve => { socket.once('data', d => { resolve(d.toString()) }) })
    socket.end()
    await answer
    assert.match(head, /^HTTP\/1\.1 200 /)
    assert.equal((await store.headObject('bodies', 'slow')).size, 6)
  })
})

describe('answers a client stops taking', () => {
  const store = new MemoryStore()
  const exchanges: Exchange[] = []
  const SIZE = 32 * 1024 * 1024
  // Longer than the body tests' idle time: client and server share this process's event loop on a busy machine.
  const SEND_IDLE_MS = 1500
  let server: Server
  let port: number

  before(async () => {
    await store.createBucket('answers')
    await store.putObject('answers', 'big', new Blob([new Uint8Array(SIZE)]).stream(), { metadata: { user: {} } })
    const s3 = createS3Handler({ store, credentials: { secretFor: k => k === 'AK' ? 'SECRET-KEY' : undefined } })
    server = createServer(toNodeListener(s3, { sendIdleMs: SEND_IDLE_MS, onExchange: e => { exchanges.push(e) } }))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  after(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })

  it('a download the client stops reading is cut off once it has taken nothing for the idle time; one that reads slowly is not', async () => {
    const url = new URL((await sign.sign(`http://127.0.0.1:${port}/answers/big?X-Amz-Expires=60`, { aws: { signQuery: true } } as never)).url)
    /** GETs the object, stops reading for `pauseMs` after the first bytes, then reads on: the bytes received until the connection closes. */
    const download = async (pauseMs: number): Promise<number> => {
      const socket = connect(port, '127.0.0.1')
      await new Promise<void>(resolve => socket.once('connect', resolve))
      socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`)
      let received = 0
      let paused = false
      socket.on('data', d => {
        received += d.byteLength
        if (paused) return
        paused = true
        socket.pause()
        setTimeout(() => { socket.resume() }, pauseMs)
      })
      socket.on('error', () => {})
      await new Promise(resolve => socket.once('close', resolve))
      return received
    }
    assert.ok(await download(100) > SIZE, 'a short pause: the whole object')
    const before = exchanges.length
    const cut = await download(SEND_IDLE_MS * 4)
    assert.ok(cut < SIZE, `cut off after ${cut} of ${SIZE} bytes`)
    assert.ok(exchanges.slice(before).some(e => e.bytesOut < SIZE), 'and the exchange ended')
  })
})
