/** Noise's message lengths read without an Error made for every socket read (noise-reads.ts): the same lengths, the same bytes. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { lengthPrefix, quietened, quietNoise } from '../../src/core/wire/noise-reads.js'
import { echoed } from '../helpers/echo.js'

/** A message with its 2-byte big-endian length in front, as Noise frames them. */
const framed = (body: Uint8Array): Uint8Array => Buffer.concat([Buffer.from([body.byteLength >> 8, body.byteLength & 0xff]), body])

describe('noise-reads', () => {
  it('reads a length whole or split across pieces, and throws the same RangeError (no new one) when fewer than two bytes are there', () => {
    for (const n of [0, 1, 255, 256, 4660, 65535]) {
      const b = Uint8Array.from([n >> 8, n & 0xff, 7])
      assert.equal(lengthPrefix(b), n)
      assert.equal(lengthPrefix(new Uint8ArrayList(b.subarray(0, 1), b.subarray(1))), n, `${n}, split after its first byte`)
      assert.equal(lengthPrefix(new Uint8ArrayList(b.subarray(0, 1), new Uint8Array(0), b.subarray(1, 2))), n, `${n}, with an empty piece between`)
    }
    const short: unknown[] = []
    for (const data of [new Uint8Array(0), Uint8Array.from([1]), new Uint8ArrayList(), new Uint8ArrayList(Uint8Array.from([1]))]) {
      try { lengthPrefix(data) } catch (err) { short.push(err) }
    }
    assert.equal(short.length, 4)
    assert.ok(short.every(e => e instanceof RangeError && e === short[0]), 'one RangeError, thrown each time')
  })

  it('the length-prefixed decoder gives the same messages with it, however the bytes arrive', () => {
    const messages = [randomBytes(1), randomBytes(300), randomBytes(65535), randomBytes(2), randomBytes(70)]
    const stream = Buffer.concat(messages.map(framed))
    for (const cut of [1, 2, 3, 7, 1000, 65536, stream.byteLength]) {
      const decoder = new LengthPrefixedDecoder({ lengthDecoder: lengthPrefix, maxBufferSize: 16 * 1024 * 1024, encodingLength: () => 2 })
      const got: Buffer[] = []
      for (let at = 0; at < stream.byteLength; at += cut) for (const m of decoder.decode(stream.subarray(at, at + cut))) got.push(Buffer.from(m.subarray()))
      assert.deepEqual(got, messages, `pieces of ${cut} bytes`)
    }
  })

  it('a connection between a node on it and a node on stock @libp2p/noise carries bytes both ways, and its reads are the quiet ones', async () => {
    const node = async (encrypter: ReturnType<typeof noise>): Promise<Libp2p> => await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [encrypter], streamMuxers: [yamux()],
    })
    const before = { ...quietened }
    const ours = await node(quietNoise())
    const stock = await node(noise())
    try {
      const sent = Buffer.concat([randomBytes(200 * 1024), Buffer.from('the end')])
      const pieces = Array.from({ length: Math.ceil(sent.byteLength / 70_001) }, (_, i) => sent.subarray(i * 70_001, (i + 1) * 70_001))
      assert.deepEqual(await echoed(ours, stock, pieces), sent)
      // The dial's connection was secured by quietNoise, and its decoder found (a @libp2p/noise that moved it fails here).
      assert.deepEqual({ connections: quietened.connections - before.connections, missed: quietened.missed - before.missed }, { connections: 1, missed: 0 })
    } finally {
      await ours.stop()
      await stock.stop()
    }
  })
})
