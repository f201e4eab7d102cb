/**
 * Pushes between two real libp2p nodes (TCP, Noise, yamux) reuse the stream
 * of the push before when the replica agrees, fall back to a new stream when
 * it does not (a member of an older version), after a refused store, and
 * after the replica dropped a kept stream that sat idle.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p, type Libp2p } from 'libp2p'
import { webHashes } from '../../src/core/hashes.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { decodeCatalogMessage } from '../../src/core/mesh/catalog-codec.js'
import type { WriteHead } from '../../src/core/mesh/local-copies.js'
import { TransferService, TRANSFER_PROTOCOL, type TransferHost } from '../../src/core/mesh/transfer.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { SealedFrames } from '../../src/core/wire/sealed-frames.js'
import { until } from '../helpers/until.js'

const make = async (): Promise<Libp2p> => await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
})

function entryOf (self: string, key: string, bytes: Uint8Array): CatalogEntry {
  return {
    bucket: 'bucket', key, version: { ms: Date.now(), counter: 0, node: self }, deleted: false, holders: [self],
    object: { size: bytes.byteLength, etag: '"e"', sha256: createHash('sha256').update(bytes).digest('hex'), lastModified: Date.now(), metadata: { user: {} }, tags: {} },
  }
}

/** A replica's host that keeps what it is pushed (checked against the version), or refuses keys starting with "refuse"; `ended` hears of each put's body read to its end. */
function storingHost (stored: Map<string, Uint8Array>, ended?: Set<string>): TransferHost {
  return {
    // What was stored is served back (the key's content, whatever hash is asked for: the reader checks).
    openLocal: async (_bucket, key) => {
      const bytes = stored.get(key)
      if (bytes === undefined) return undefined
      return {
        info: { key, size: bytes.byteLength, etag: '"e"', sha256: '', lastModified: new Date(), metadata: { user: {} }, tags: {} },
        stream: () => new Response(new Uint8Array(bytes)).body!,
        close: async () => {},
      }
    },
    accept: async () => { throw new Error('not used here') },
    acceptStreamed: async (_from, head, body, entry) => {
      const bytes = new Uint8Array(await new Response(body).arrayBuffer())
      ended?.add(head.key)
      const e = await entry()
      if (head.key.startsWith('refuse')) throw new Error('refused on purpose')
      assert.equal(createHash('sha256').update(bytes).digest('hex'), e.object!.sha256)
      stored.set(head.key, bytes)
    },
    hashes: webHashes,
    onCorrupt: () => {},
  }
}

/** Pushes `bytes` as a write streamed while it is made, then commits it (as the Replicator does). */
async function push (client: TransferService, peer: string, self: string, key: string, bytes: Uint8Array): Promise<void> {
  const head: WriteHead = { bucket: 'bucket', key, metadata: { user: {} }, tags: {}, size: bytes.byteLength }
  const p = client.pushStream(peer, head, new Response(new Uint8Array(bytes)).body!, AbortSignal.timeout(20_000))
  await p.commit(entryOf(self, key, bytes))
}

const inbound = (node: Libp2p): number => node.getConnections().flatMap(c => c.streams).filter(s => s.protocol === TRANSFER_PROTOCOL).length

describe('push streams', () => {
  let replica: Libp2p
  let writer: Libp2p
  let key: Uint8Array
  before(async () => {
    [replica, writer] = [await make(), await make()]
    key = Keyring.generateKey()
    await writer.dial(replica.getMultiaddrs()[0]!)
  })
  after(async () => { await writer?.stop(); await replica?.stop() })

  it('a push after the first goes out on the stream the one before used, every copy arrives whole, and gets reuse the streams too', async () => {
    const stored = new Map<string, Uint8Array>()
    const server = new TransferService(replica, await Keyring.create([key], 'c'), storingHost(stored))
    await server.start()
    const client = new TransferService(writer, await Keyring.create([key], 'c'), storingHost(new Map()))
    try {
      const peer = replica.peerId.toString()
      const sent = Array.from({ length: 6 }, (_, i) => randomBytes(1000 + i * 50_000))
      for (const [i, bytes] of sent.entries()) await push(client, peer, writer.peerId.toString(), `k${i}`, bytes)
      for (const [i, bytes] of sent.entries()) assert.deepEqual(stored.get(`k${i}`), new Uint8Array(bytes), `copy ${i} arrived whole`)
      assert.equal(client.stats.pushedOnKept, 5, 'every push after the first reused the stream')
      assert.equal(server.stats.accepted, 6)
      // One push stream open (kept), and at most the spare opened ahead next to it.
      assert.ok(inbound(replica) <= 2, `streams open on the replica: ${inbound(replica)}`)

      // A refused store ends its stream: the next push opens another, and is stored.
      await assert.rejects(push(client, peer, writer.peerId.toString(), 'refuse-me', randomBytes(10)), /refused on purpose/)
      const keptBefore = client.stats.pushedOnKept
      await push(client, peer, writer.peerId.toString(), 'after-refusal', randomBytes(20))
      assert.equal(client.stats.pushedOnKept, keptBefore, 'the push after a refusal did not use the refused stream')
      assert.equal(stored.get('after-refusal')?.byteLength, 20)

      // Gets go out on the streams pushes left, and keep theirs for the next: each object read back whole.
      const fetchedBefore = client.stats.fetchedOnKept
      for (const [i, bytes] of sent.entries()) {
        const body = await client.get(peer, { bucket: 'bucket', key: `k${i}`, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.byteLength }, AbortSignal.timeout(20_000))
        assert.deepEqual(new Uint8Array(await new Response(body).arrayBuffer()), new Uint8Array(bytes), `k${i} read back`)
        // The good verdict goes out, and the stream back to the pool, after the reader's last byte (waited for: a busy
        // machine may take longer than a fixed pause).
        await until(`the stream of k${i}'s get is back in the pool`, () => client.keptWith(peer) > 0, 5_000)
      }
      assert.equal(client.stats.fetchedOnKept - fetchedBefore, sent.length, 'every get reused a kept stream')
      // Refused (not held there): that stream ends, and the next get still works.
      await assert.rejects(client.get(peer, { bucket: 'bucket', key: 'missing', sha256: '00'.repeat(32), size: 1 }, AbortSignal.timeout(20_000)), /cannot serve/)
      const again = await client.get(peer, { bucket: 'bucket', key: 'k0', sha256: createHash('sha256').update(sent[0]!).digest('hex'), size: sent[0]!.byteLength }, AbortSignal.timeout(20_000))
      assert.equal((await new Response(again).arrayBuffer()).byteLength, sent[0]!.byteLength)
    } finally {
      await client.stop()
      await server.stop()
    }
  })

  it('a put\'s body ends with its bytes, before the writer sends their version, so the replica can make them durable meanwhile', async () => {
    const stored = new Map<string, Uint8Array>()
    const ended = new Set<string>()
    const server = new TransferService(replica, await Keyring.create([key], 'c'), storingHost(stored, ended))
    await server.start()
    const client = new TransferService(writer, await Keyring.create([key], 'c'), storingHost(new Map()))
    try {
      const peer = replica.peerId.toString()
      const bytes = randomBytes(300_000)
      const head: WriteHead = { bucket: 'bucket', key: 'early', metadata: { user: {} }, tags: {}, size: bytes.byteLength }
      const p = client.pushStream(peer, head, new Response(new Uint8Array(bytes)).body!, AbortSignal.timeout(20_000))
      await until('the replica has read the whole body, with no version sent yet', () => ended.has('early'), 5_000)
      assert.equal(stored.has('early'), false, 'nothing is stored before the version')
      await p.commit(entryOf(writer.peerId.toString(), 'early', bytes))
      assert.deepEqual(stored.get('early'), new Uint8Array(bytes))
      // The version was read off the stream before the answer: the next push reuses it.
      await push(client, peer, writer.peerId.toString(), 'next', randomBytes(10))
      assert.equal(client.stats.pushedOnKept, 1)
      assert.equal(stored.get('next')?.byteLength, 10)
    } finally {
      await client.stop()
      await server.stop()
    }
  })

  it('a kept stream the replica dropped after its idle timeout is not used again', async () => {
    const stored = new Map<string, Uint8Array>()
    const idleTimeoutMs = 600
    const server = new TransferService(replica, await Keyring.create([key], 'c'), storingHost(stored), { idleTimeoutMs })
    await server.start()
    // The writer keeps streams longer than the replica waits on them: the replica drops them first.
    const client = new TransferService(writer, await Keyring.create([key], 'c'), storingHost(new Map()), { idleTimeoutMs: idleTimeoutMs * 10 })
    try {
      const peer = replica.peerId.toString()
      await push(client, peer, writer.peerId.toString(), 'first', randomBytes(100))
      await new Promise(resolve => setTimeout(resolve, idleTimeoutMs * 3))
      assert.equal(inbound(replica), 0, 'the replica dropped the kept stream (and the spare opened ahead)')
      await push(client, peer, writer.peerId.toString(), 'second', randomBytes(100))
      assert.equal(client.stats.pushedOnKept, 0, 'the dropped stream was not used')
      assert.equal(stored.size, 2)
      assert.equal(server.stats.refused, 0, 'an idle kept stream is dropped quietly, not counted as a refusal')
    } finally {
      await client.stop()
      await server.stop()
    }
  })

  it('a replica of an older version, which answers "stored" without keeping the stream, still gets every push', async () => {
    // The older protocol by hand: the head, the bytes, the version, then "stored" and the stream closed.
    let streams = 0
    const keyring = await Keyring.create([key], 'c')
    const got: number[] = []
    await replica.handle(TRANSFER_PROTOCOL, (stream) => {
      streams++
      void (async () => {
        const frames = new SealedFrames(stream, keyring)
        const request = await frames.receive()
        assert.equal(request.op, 'put')
        let size = 0
        for (let pieces = await frames.receiveData(); pieces !== undefined; pieces = await frames.receiveData()) for (const p of pieces) size += p.byteLength
        const commit = await frames.receive()
        assert.equal(decodeCatalogMessage(commit.entry as Uint8Array).entries[0]!.object!.size, size)
        got.push(size)
        await frames.send({ status: 'stored' })
        await frames.close()
      })().catch(() => { /* a spare stream opened ahead and closed unused */ })
    })
    const client = new TransferService(writer, await Keyring.create([key], 'c'), storingHost(new Map()))
    try {
      const peer = replica.peerId.toString()
      for (let i = 0; i < 3; i++) await push(client, peer, writer.peerId.toString(), `old-${i}`, randomBytes(5000 + i))
      assert.deepEqual(got, [5000, 5001, 5002])
      assert.equal(client.stats.pushedOnKept, 0, 'no stream was reused')
      // Each push had a stream of its own (spares opened ahead count: they are closed unused).
      assert.ok(streams >= 3, `streams opened: ${streams}`)
    } finally {
      await client.stop()
      await replica.unhandle(TRANSFER_PROTOCOL)
    }
  })
})
