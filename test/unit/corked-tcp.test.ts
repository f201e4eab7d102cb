import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, Socket, type AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { corkedSend, corkedTcp } from '../../src/node/corked-tcp.js'
import { noiseCrypto } from '../../src/node/noise-crypto.js'
import { until } from '../helpers/until.js'

type Writes = (this: Socket, ...args: unknown[]) => unknown
const proto = Socket.prototype as unknown as { _writeGeneric: Writes }

/** Counts the socket writes (write and writev alike) made while `run` runs, in this process. */
async function countingWrites (run: () => Promise<void>): Promise<number> {
  const original = proto._writeGeneric
  let writes = 0
  proto._writeGeneric = function (...args) { writes++; return original.apply(this, args) }
  try {
    await run()
  } finally {
    proto._writeGeneric = original
  }
  return writes
}

/** Two nodes over `transport`; the second takes in `size` bytes on one stream, the first sends them; the socket writes made meanwhile, and whether the bytes came through intact. */
async function oneSend (transport: typeof tcp, size: number): Promise<{ writes: number, intact: boolean }> {
  const node = async (): Promise<Libp2p> => await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [transport()], connectionEncrypters: [noise({ crypto: noiseCrypto })], streamMuxers: [yamux()],
  })
  const [a, b] = [await node(), await node()]
  try {
    const sent = randomBytes(size)
    const received = new Promise<Buffer>(resolve => {
      void b.handle('/sink/1.0.0', stream => {
        const got: Uint8Array[] = []
        stream.addEventListener('message', e => { got.push(e.data.subarray()) })
        stream.addEventListener('remoteCloseWrite', () => { resolve(Buffer.concat(got)); void stream.close() })
      })
    })
    const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, '/sink/1.0.0')
    // Settled: the handshake's and the stream's opening writes are not counted.
    await new Promise(resolve => setTimeout(resolve, 100))
    let got: Buffer | undefined
    const writes = await countingWrites(async () => {
      for (let at = 0; at < size; at += 256 * 1024) {
        if (!stream.send(sent.subarray(at, at + 256 * 1024))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
      }
      await stream.close()
      got = await received
    })
    return { writes, intact: got !== undefined && got.equals(sent) }
  } finally {
    await a.stop()
    await b.stop()
  }
}

describe('corkedTcp', () => {
  it('sends a MiB over Noise and yamux in a few socket writes, where @libp2p/tcp alone makes about three for each 64 KiB Noise message', { timeout: 60_000 }, async () => {
    // The precondition: without the cork, every piece of every Noise message (length, ciphertext pieces, tag) is a write.
    // If this fails, @libp2p/tcp writes pieces together itself now, and corkedTcp can go.
    const plain = await oneSend(tcp, 1024 * 1024)
    assert.ok(plain.intact, 'the bytes came through @libp2p/tcp alone')
    assert.ok(plain.writes >= 40, `@libp2p/tcp alone made ${plain.writes} socket writes for 1 MiB (about 17 Noise messages)`)
    const corked = await oneSend(corkedTcp, 1024 * 1024)
    assert.ok(corked.intact, 'the bytes came through corked, in order')
    // Both sides' writes: 17 Noise messages in about 6 sends, yamux's window updates and the closes. Usually about 12;
    // the bound leaves room for a loaded machine, where fewer writes find the socket busy and merge, and stays
    // below what the stock transport makes for the sender's messages alone (about three each).
    assert.ok(corked.writes <= 30, `corked, ${corked.writes} socket writes for 1 MiB`)
  })

  it('takes every byte, says when the socket is full, and the socket drains once the reader reads again', { timeout: 60_000 }, async () => {
    let serverSide: Socket | undefined
    const server = createServer(s => { serverSide = s; s.pause() })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const client = new Socket()
    await new Promise<void>(resolve => client.connect((server.address() as AddressInfo).port, '127.0.0.1', resolve))
    try {
      await until('the server has its side of the connection', () => serverSide !== undefined)
      const reader = serverSide!
      const sentHash = createHash('sha256')
      let sent = 0
      let full = false
      // Lists of pieces of uneven sizes, as Noise makes them, until the kernel's buffers and the socket's are full.
      for (let i = 0; i < 4096 && !full; i++) {
        const list = new Uint8ArrayList(randomBytes(2), randomBytes(12 + (i % 7)), randomBytes(65_000), randomBytes(16))
        for (const buf of list) sentHash.update(buf)
        const result = corkedSend(client, list)
        assert.equal(result.sentBytes, list.byteLength, 'every byte of the list is taken')
        sent += list.byteLength
        full = !result.canSendMore
      }
      assert.ok(full, `the socket said it was full (after ${sent} bytes)`)
      assert.ok(client.writableLength >= client.writableHighWaterMark, 'and it was: its buffer is past the high-water mark')
      const drained = new Promise<void>(resolve => client.once('drain', () => { resolve() }))
      const receivedHash = createHash('sha256')
      let received = 0
      const all = new Promise<void>(resolve => {
        reader.on('data', (d: Buffer) => { receivedHash.update(d); received += d.byteLength; if (received === sent) resolve() })
      })
      reader.resume()
      await drained
      await all
      assert.equal(receivedHash.digest('hex'), sentHash.digest('hex'), 'the bytes arrived whole and in order')
    } finally {
      client.destroy()
      serverSide?.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  })
})
