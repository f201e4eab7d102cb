import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import type { Stream, StreamMuxer } from '@libp2p/interface'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { meshMuxer } from '../../src/core/wire/mesh-muxer.js'

const WINDOW_UPDATE = 1

/**
 * Two ends of one yamux session over an in-memory connection: `bytes` go in
 * pieces of `piece` to the other end, which counts the credit it grants
 * (window updates without a flag: SYN, ACK and FIN travel as window updates too).
 */
async function transfer (bytes: Uint8Array, piece: number, receiver: (s: Stream) => void = () => {}): Promise<{ received: Uint8Array, updates: number, dataFrames: number, credits: Array<{ granted: number, window: number }> }> {
  const [out, inb] = multiaddrConnectionPair()
  const factory = meshMuxer()()
  const client: StreamMuxer = factory.createStreamMuxer(out)
  const server: StreamMuxer = factory.createStreamMuxer(inb)
  let updates = 0
  let dataFrames = 0
  /** Each credit update: what it granted, and the receive window once granted (the stream then has that much room). */
  const credits: Array<{ granted: number, window: number }> = []
  const got = new Uint8ArrayList()
  const done = new Promise<void>(resolve => {
    server.addEventListener('stream', e => {
      const s = e.detail as Stream & { sendFrame: (header: { type: number, flag: number, length: number }, data?: unknown) => void, handleData: (f: unknown) => void, recvWindow: number }
      const sendFrame = s.sendFrame
      s.sendFrame = (header, data) => {
        if (header.type === WINDOW_UPDATE && header.flag === 0) { updates++; credits.push({ granted: header.length, window: s.recvWindow }) }
        sendFrame(header, data)
      }
      const handleData = s.handleData.bind(s)
      s.handleData = f => { dataFrames++; handleData(f) }
      // Counted, not taken from remoteCloseWrite: a paused stream still holds what it buffered when the FIN arrives.
      s.addEventListener('message', m => { got.append(m.data); if (got.byteLength >= bytes.byteLength) resolve() })
      receiver(s)
    })
  })
  const stream = await client.createStream()
  for (let at = 0; at < bytes.byteLength; at += piece) {
    if (!stream.send(bytes.subarray(at, at + piece))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  await stream.close()
  await done
  await client.close()
  await server.close()
  return { received: got.subarray(), updates, dataFrames, credits }
}

test('a stream grants credit once half its window is used, not after every frame nor only once it is used up, and every byte arrives', { timeout: 20_000 }, async () => {
  const bytes = randomBytes(4 * 1024 * 1024)
  const { received, updates, dataFrames, credits } = await transfer(bytes, 64 * 1024)
  assert.ok(Buffer.from(received).equals(bytes), 'the bytes arrived whole and in order')
  // The precondition: the sender wrote many frames (yamux 8 alone answers each with an update).
  assert.ok(dataFrames >= 64, `${dataFrames} data frames`)
  assert.ok(updates >= 1 && updates <= 32, `${updates} window updates for ${dataFrames} data frames`)
  // Room left before each grant (the window once granted, less what it granted): under half the window, every time...
  const left = credits.map(c => c.window - c.granted)
  assert.ok(credits.every((c, i) => left[i]! * 2 < c.window), `room left before each grant: ${left.join(', ')}`)
  // ...and some granted before the window was used up (a sender is not made to stop and wait each window).
  assert.ok(left.some(l => l > 0), `room left before each grant: ${left.join(', ')}`)
})

test('a receiver that pauses and resumes its stream still gets every byte (its sender is never left without credit)', { timeout: 20_000 }, async () => {
  const bytes = randomBytes(2 * 1024 * 1024)
  const { received } = await transfer(bytes, 32 * 1024, s => {
    let n = 0
    s.addEventListener('message', () => {
      if (++n % 8 !== 0) return
      s.pause()
      setTimeout(() => { s.resume() }, 5)
    })
  })
  assert.ok(Buffer.from(received).equals(bytes))
})

test('small messages arrive whole with no credit update while less than half the window is used', { timeout: 20_000 }, async () => {
  const bytes = randomBytes(100 * 1000)
  const { received, updates, dataFrames } = await transfer(bytes, 1000)
  assert.ok(Buffer.from(received).equals(bytes))
  assert.equal(dataFrames >= 100, true, `${dataFrames} data frames`)
  // 100 KB is under half of the first window: no credit needs granting.
  assert.equal(updates, 0, `${updates} window updates`)
})
