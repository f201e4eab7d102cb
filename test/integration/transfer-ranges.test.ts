/**
 * Range reads between two real libp2p nodes (TCP, Noise, yamux): only the
 * chunks holding a range travel, each checked against the object's chunk
 * tree; a holder whose copy rots after it made the tree has its chunk
 * refused by the reader, then finds its copy bad and says so.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { toHex, webHashes } from '../../src/core/hashes.js'
import { TREE_CHUNK_BYTES, TreeHasher, treeRoot } from '../../src/core/mesh/chunk-tree.js'
import type { RangeRequest } from '../../src/core/mesh/range-transfer.js'
import { TransferService, type TransferHost } from '../../src/core/mesh/transfer.js'
import { Keyring } from '../../src/core/wire/keyring.js'

const C = TREE_CHUNK_BYTES
const make = async (): Promise<Libp2p> => await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
})

/** A holder of one object under key "k": its bytes as they are now (a test may change them on "disk"). */
function holderHost (copy: { bytes: Uint8Array, opened?: number }, corrupt: string[]): TransferHost {
  const sha256 = createHash('sha256').update(copy.bytes).digest('hex')
  return {
    openLocal: async (_bucket, key, wanted) => {
      if (key !== 'k' || wanted !== sha256) return undefined
      copy.opened = (copy.opened ?? 0) + 1
      const bytes = copy.bytes
      return {
        // What the store believes it holds (its metadata), whatever the bytes have become.
        info: { key, size: bytes.byteLength, etag: '"e"', sha256, lastModified: new Date(), metadata: { user: {} }, tags: {} },
        stream: range => new Response(new Uint8Array(range === undefined ? bytes : bytes.subarray(range.start, range.end + 1))).body!,
        close: async () => {},
      }
    },
    accept: async () => { throw new Error('not used here') },
    acceptStreamed: async () => { throw new Error('not used here') },
    hashes: webHashes,
    onCorrupt: (_bucket, key, sha) => { corrupt.push(`${key} ${sha}`) },
  }
}

const read = async (body: ReadableStream<Uint8Array>): Promise<Buffer> => Buffer.from(await new Response(body).arrayBuffer())

describe('range reads', () => {
  let holder: Libp2p
  let reader: Libp2p
  let key: Uint8Array
  before(async () => {
    [holder, reader] = [await make(), await make()]
    key = Keyring.generateKey()
    await reader.dial(holder.getMultiaddrs()[0]!)
  })
  after(async () => { await reader?.stop(); await holder?.stop() })

  it('carry only the chunks that hold the range, come back as stored, and reuse the stream; a wrong root is refused; a copy that rots is found out', async () => {
    const original = new Uint8Array(randomBytes(6 * C + 4321))
    const copy: { bytes: Uint8Array, opened?: number } = { bytes: new Uint8Array(original) }
    const sha256 = createHash('sha256').update(original).digest('hex')
    const hasher = new TreeHasher(webHashes)
    hasher.update(original)
    const tree = toHex(treeRoot(webHashes, hasher.finish()))
    const corrupt: string[] = []
    const server = new TransferService(holder, await Keyring.create([key], 'c'), holderHost(copy, corrupt))
    await server.start()
    const client = new TransferService(reader, await Keyring.create([key], 'c'), holderHost({ bytes: new Uint8Array(0) }, []))
    const peer = holder.peerId.toString()
    const ask = (start: number, end: number, t = tree): RangeRequest => ({ bucket: 'b', key: 'k', sha256, size: original.byteLength, tree: t, start, end })
    try {
      const ranges: Array<[number, number, number]> = [
        // start, end, and the bytes of the chunks holding them
        [0, 0, C],
        [C - 1, C, 2 * C],
        [2 * C + 5, 4 * C + 100, 3 * C],
        [original.byteLength - 10, original.byteLength - 1, 4321],
        [5 * C, original.byteLength - 1, C + 4321],
      ]
      for (const [start, end, carried] of ranges) {
        const before = client.stats.bytesReceived
        const got = await read(await client.getRange(peer, ask(start, end), AbortSignal.timeout(20_000)))
        assert.ok(got.equals(Buffer.from(original.subarray(start, end + 1))), `bytes ${start}-${end} as stored`)
        assert.equal(client.stats.bytesReceived - before, carried, `bytes ${start}-${end}: only the chunks holding them travelled`)
        // The good verdict goes out, and the stream back to the pool, after the reader's last byte.
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      assert.equal(client.stats.fetchedOnKept, ranges.length - 1, 'every range after the first reused the stream')
      assert.equal(server.stats.refused, 0)

      // A reader that goes away mid-range (a seek in a video) leaves the holder's tree be: the next range opens the copy once, for its chunks.
      const cancelled = (await client.getRange(peer, ask(0, 3 * C), AbortSignal.timeout(20_000))).getReader()
      await cancelled.read()
      await cancelled.cancel()
      await new Promise(resolve => setTimeout(resolve, 50))
      const opened = copy.opened!
      assert.ok((await read(await client.getRange(peer, ask(C, C + 10), AbortSignal.timeout(20_000)))).equals(Buffer.from(original.subarray(C, C + 11))))
      assert.equal(copy.opened! - opened, 1, 'no second read of the whole copy to make the tree again')

      // A root that is not this content's: refused before any byte.
      await assert.rejects(client.getRange(peer, ask(0, 10, '00'.repeat(32)), AbortSignal.timeout(20_000)), /cannot serve.*tree differs/)

      // The copy rots after the holder made its tree: the reader refuses the chunk and never passes a bad byte on.
      copy.bytes[3 * C + 77]! ^= 0xff
      const body = await client.getRange(peer, ask(3 * C, 3 * C + 100), AbortSignal.timeout(20_000))
      const reader2 = body.getReader()
      await assert.rejects(reader2.read(), /chunk 3 .* do not match its tree/)
      assert.equal(corrupt.length, 0, 'the holder could not know yet')
      // The holder dropped its tree when the reader went away: the next range makes it again, from the copy, which is found bad.
      await new Promise(resolve => setTimeout(resolve, 50))
      await assert.rejects(client.getRange(peer, ask(0, 10), AbortSignal.timeout(20_000)), /cannot serve.*does not hash/)
      assert.deepEqual(corrupt, [`k ${sha256}`], 'the holder reported its copy')
    } finally {
      await client.stop()
      await server.stop()
    }
  })
})
