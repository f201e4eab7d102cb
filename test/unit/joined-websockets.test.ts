import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { WebSocket } from 'ws'
import { joined, joinedWebSockets, MAX_INCOMING_MESSAGE_BYTES } from '../../src/core/wire/joined-websockets.js'
import { preparingConnections } from '../../src/core/wire/prepared-connections.js'
import { noiseCrypto } from '../../src/node/noise-crypto.js'

type MakeTransport = typeof webSockets

/**
 * Two nodes over WebSockets, the dialler on `dialler`, the listener on
 * `listener`; the dialler sends `size` bytes on one stream. The WebSocket
 * messages the dialler sent meanwhile, and whether the bytes came through intact.
 */
async function oneSend (dialler: MakeTransport, listener: MakeTransport, size: number): Promise<{ messages: number, sends: number, intact: boolean }> {
  let counting = false
  let messages = 0
  let sends = 0
  // Counts the sends the connection is asked for (after the transport's own change to it) and the messages its
  // WebSocket sends for them.
  const counted = (make: MakeTransport): MakeTransport => (init?: Parameters<MakeTransport>[0]) => preparingConnections(make(init), maConn => {
    const conn = maConn as unknown as { websocket: { send: (data: unknown) => void }, sendData: (data: Uint8ArrayList) => unknown }
    const ws = conn.websocket
    const send = ws.send.bind(ws)
    ws.send = data => { if (counting) messages++; send(data) }
    const sendData = conn.sendData.bind(conn)
    conn.sendData = data => { if (counting) sends++; return sendData(data) }
  }) as ReturnType<MakeTransport>
  const node = async (make: MakeTransport, listen: string[]): Promise<Libp2p> => await createLibp2p({
    addresses: { listen }, transports: [make()], connectionEncrypters: [noise({ crypto: noiseCrypto })], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  })
  const [a, b] = [await node(counted(dialler), []), await node(listener, ['/ip4/127.0.0.1/tcp/0/ws'])]
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
    // Settled: the handshake's and the stream's opening messages are not counted.
    await new Promise(resolve => setTimeout(resolve, 100))
    counting = true
    for (let at = 0; at < size; at += 256 * 1024) {
      if (!stream.send(sent.subarray(at, at + 256 * 1024))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
    const got = await received
    counting = false
    return { messages, sends, intact: got.equals(sent) }
  } finally {
    await a.stop()
    await b.stop()
  }
}

describe('joinedWebSockets', () => {
  it('sends a MiB over Noise and yamux as one message per send, where @libp2p/websockets alone sends each Noise message as about four; joined and stock peers understand each other', { timeout: 60_000 }, async t => {
    // The precondition: without joining, every piece of every Noise message (length, ciphertext pieces, tag) is a message.
    // If this fails, @libp2p/websockets joins pieces itself now, and joinedWebSockets can go.
    const plain = await oneSend(webSockets, webSockets, 1024 * 1024)
    t.diagnostic(`@libp2p/websockets alone: ${plain.messages} messages for ${plain.sends} sends`)
    assert.ok(plain.intact, 'the bytes came through @libp2p/websockets alone')
    assert.ok(plain.messages >= 50, `@libp2p/websockets alone sent ${plain.messages} messages for 1 MiB (about 17 Noise messages)`)
    for (const [name, listener] of [['joined', joinedWebSockets], ['stock', webSockets]] as const) {
      const joined = await oneSend(joinedWebSockets, listener, 1024 * 1024)
      t.diagnostic(`joined, to a ${name} peer: ${joined.messages} messages for ${joined.sends} sends`)
      assert.ok(joined.intact, `the bytes came through joined, in order, to a ${name} peer`)
      assert.equal(joined.messages, joined.sends, 'one message per send')
      assert.ok(joined.messages <= 20, `joined, ${joined.messages} messages for 1 MiB`)
    }
    // Stock on the sending side, joined on the other.
    const toJoined = await oneSend(webSockets, joinedWebSockets, 1024 * 1024)
    assert.ok(toJoined.intact, 'the bytes came through from a stock peer to a joined one')
  })

  it('closes a connection whose WebSocket message is larger than 2 MiB before anything reads it (ws would hold up to 100 MiB)', { timeout: 30_000 }, async () => {
    /** The close code a listener on `make` answers one message of `size` bytes with, from a peer that is not libp2p. */
    const closeCode = async (make: MakeTransport, size: number): Promise<number> => {
      const node = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] }, transports: [make()], connectionEncrypters: [noise({ crypto: noiseCrypto })], streamMuxers: [yamux()] })
      try {
        const [, , host, , port] = node.getMultiaddrs()[0]!.toString().split('/')
        const ws = new WebSocket(`ws://${host!}:${port!}`)
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
        const closed = new Promise<number>(resolve => ws.once('close', code => { resolve(code) }))
        ws.send(randomBytes(size))
        return await closed
      } finally {
        await node.stop()
      }
    }
    const tooBig = MAX_INCOMING_MESSAGE_BYTES + 1024
    assert.notEqual(await closeCode(webSockets, tooBig), 1009, '@libp2p/websockets alone takes the message (and fails it at the handshake)')
    assert.equal(await closeCode(joinedWebSockets, tooBig), 1009, 'Message Too Big')
    assert.notEqual(await closeCode(joinedWebSockets, 1024 * 1024), 1009, 'a MiB, what a joined send carries at most, is taken')
  })

  it('joins a list into messages of at most a MiB, in order, and leaves a list of one piece as it is', () => {
    const bytes = new Uint8Array(randomBytes(2.5 * 1024 * 1024))
    const list = new Uint8ArrayList()
    // Pieces as Noise gives them: lengths, ciphertexts and tags, across the MiB boundaries.
    for (let at = 0; at < bytes.byteLength;) {
      for (const n of [2, 65_519, 16]) { list.append(bytes.subarray(at, Math.min(at + n, bytes.byteLength))); at += n }
    }
    const out = joined(list)
    const messages = [...out]
    assert.deepEqual(messages.map(m => m.byteLength), [1024 * 1024, 1024 * 1024, 0.5 * 1024 * 1024])
    assert.ok(Buffer.from(out.subarray()).equals(Buffer.from(bytes)), 'the same bytes, in order')
    const one = new Uint8ArrayList(bytes.subarray(0, 100))
    assert.equal(joined(one), one, 'a single piece is sent as it is')
  })
})
