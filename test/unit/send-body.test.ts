import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { sendBody } from '../../src/core/mesh/transfer-server.js'
import type { SealedFrames } from '../../src/core/wire/sealed-frames.js'

/** Records the data frames sendBody writes (each frame: the pieces it was given); the first waits for `peer` when given. */
function recorder (peer?: Promise<void>): { frames: SealedFrames, sent: Uint8Array[][], ended: () => boolean } {
  const sent: Uint8Array[][] = []
  let ended = false
  const frames = {
    sendData: async (chunk: Uint8Array | Uint8Array[]) => {
      sent.push(Array.isArray(chunk) ? [...chunk] : [chunk])
      if (sent.length === 1) await peer
    },
    endData: async () => { ended = true },
  } as unknown as SealedFrames
  return { frames, sent, ended: () => ended }
}

const joined = (frames: Uint8Array[][]): Buffer => Buffer.concat(frames.flat())

test('pieces already queued go out together, in frames of at most 256 KiB, in order', async () => {
  const bytes = randomBytes(16 * 64 * 1024 + 1000)
  const body = new ReadableStream<Uint8Array>({
    start (c) {
      for (let at = 0; at < bytes.byteLength; at += 64 * 1024) c.enqueue(bytes.subarray(at, at + 64 * 1024))
      c.close()
    },
  })
  const { frames, sent, ended } = recorder()
  const stats = { bytesSent: 0 }
  await sendBody(frames, body, stats)
  assert.ok(joined(sent).equals(bytes))
  assert.equal(stats.bytesSent, bytes.byteLength)
  assert.ok(ended())
  // 17 pieces of at most 64 KiB: four full frames and the rest, not one frame each.
  assert.deepEqual(sent.map(f => f.reduce((n, p) => n + p.byteLength, 0)), [262144, 262144, 262144, 262144, 1000])
})

test('what is at hand is sent without waiting for pieces the body has yet to produce', async () => {
  const first = randomBytes(100_000)
  const rest = randomBytes(50_000)
  let release!: () => void
  const later = new Promise<void>(resolve => { release = resolve })
  const body = new ReadableStream<Uint8Array>({
    async pull (c) {
      if (c.desiredSize === null) return
      c.enqueue(first)
      await later
      c.enqueue(rest)
      c.close()
    },
  }, { highWaterMark: 0 })
  const { frames, sent } = recorder()
  const stats = { bytesSent: 0 }
  const sending = sendBody(frames, body, stats)
  for (let i = 0; i < 50 && sent.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
  assert.equal(sent.length, 1, 'the first piece went out while the body waited')
  assert.ok(joined(sent).equals(first))
  release()
  await sending
  assert.ok(joined(sent).equals(Buffer.concat([first, rest])))
  assert.equal(stats.bytesSent, first.byteLength + rest.byteLength)
})

test('pieces that arrive while a frame waits for the peer go out together once it is sent', async () => {
  const bytes = randomBytes(12 * 64 * 1024)
  let produced = 0
  const body = new ReadableStream<Uint8Array>({
    pull (c) {
      if (produced >= bytes.byteLength) { c.close(); return }
      c.enqueue(bytes.subarray(produced, produced + 64 * 1024))
      produced += 64 * 1024
    },
  }, { highWaterMark: 12 })
  let open!: () => void
  // The first frame waits for the peer (yamux's window, a slow replica), as a real stream's would.
  const { frames, sent } = recorder(new Promise<void>(resolve => { open = resolve }))
  const sending = sendBody(frames, body, { bytesSent: 0 })
  await new Promise(resolve => setTimeout(resolve, 20))
  open()
  await sending
  assert.ok(joined(sent).equals(bytes))
  assert.ok(sent.every(f => f.reduce((n, p) => n + p.byteLength, 0) <= 262144))
  assert.ok(sent.length <= 4, `${sent.length} frames for 12 pieces`)
})

test('a body that fails fails the send, and the end of the data is not sent', async () => {
  const body = new ReadableStream<Uint8Array>({
    start (c) { c.enqueue(randomBytes(1000)) },
    pull (c) { c.error(new Error('the client went away')) },
  })
  const { frames, ended } = recorder()
  await assert.rejects(sendBody(frames, body, { bytesSent: 0 }), /the client went away/)
  assert.equal(ended(), false)
})
