/**
 * `s3mesh relay`: a member that relays for tabs, keeps the member list and
 * admits tabs, but never holds an object. Two storage nodes and a relay as
 * real processes; guests and circuit clients are libp2p peers in this process.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { MemoryStore } from '../../src/core/memory-store.js'
import { GuestMember } from '../../src/core/mesh/guest-member.js'
import { nodeHashes } from '../../src/node/node-hashes.js'
import { errorCode, sdkClient, signer } from '../helpers/s3-client.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const root = signer()
const ECHO = '/s3mesh-test/count/1.0.0'

interface Member { id: string, role?: string, self?: true, meta: { url?: string } }
const members = async (n: ServerProcess): Promise<Member[]> => ((await (await root.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Member[] }).members
const idOf = (n: ServerProcess): string => /Mesh peer:\s+(\S+)/.exec(n.output())![1]!
const wsOf = (n: ServerProcess): string => /^\s+(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\/\S+)$/m.exec(n.output())![1]!

/** A libp2p peer as a tab is one: WebSockets out, reachable through a relay, no cluster key. */
async function peer (reachableThroughRelay = false): Promise<Libp2p> {
  return await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    // Listening on /p2p-circuit: a reservation on the first relay it connects to.
    addresses: { listen: reachableThroughRelay ? ['/p2p-circuit'] : [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() },
  })
}

/** Has `relay` admit `p` as a tab is admitted (browser-join, root's credentials). */
async function admit (relay: ServerProcess, p: Libp2p): Promise<void> {
  const res = await root.fetch(`${relay.url}/_s3mesh/v1/browser-join?peer=${p.peerId.toString()}`)
  assert.equal(res.status, 200, await res.clone().text())
}

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
/** Field 5 (status) of a HopMessage, read by hand: 100 is OK, 202 PERMISSION_DENIED. */
function hopStatus (message: Uint8Array): number | undefined {
  const varint = (at: number): [number, number] => {
    let value = 0
    for (let shift = 0; ; shift += 7) {
      const byte = message[at++]!
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return [value, at]
    }
  }
  let [, at] = varint(0) // the length prefix
  while (at < message.byteLength) {
    const [tag, next] = varint(at)
    if ((tag & 7) === 0) {
      const [value, after] = varint(next)
      if (tag >> 3 === 5) return value
      at = after
    } else if ((tag & 7) === 2) {
      const [length, after] = varint(next)
      at = after + length
    } else return undefined
  }
  return undefined
}

/** Asks `relay` for a reservation over a hop stream of `p`'s own, running `meanwhile` once it is asked; resolves to the answer's status and how long it took. */
async function reserve (relay: ServerProcess, p: Libp2p, meanwhile = async (): Promise<void> => {}): Promise<{ status: number | undefined, ms: number }> {
  const stream = await p.dialProtocol(multiaddr(wsOf(relay)), HOP)
  const answer = new Promise<Uint8Array>(resolve => { stream.addEventListener('message', e => { resolve((e as unknown as { data: { subarray: () => Uint8Array } }).data.subarray()) }, { once: true }) })
  // A length-prefixed HopMessage { type: RESERVE (0) }.
  const asked = Date.now()
  stream.send(Uint8Array.from([2, 0x08, 0x00]))
  await meanwhile()
  const status = hopStatus(await answer)
  const ms = Date.now() - asked
  await stream.close().catch(() => {})
  return { status, ms }
}

/** Sends `bytes` from `from` to `to` through `relay`'s circuit; resolves to how many arrived before the circuit ended. */
async function throughCircuit (relay: ServerProcess, bytes: number): Promise<number> {
  const [a, b] = [await peer(), await peer(true)]
  try {
    await admit(relay, a)
    await admit(relay, b)
    let received = 0
    const done = new Promise<void>(resolve => {
      void b.handle(ECHO, async (stream) => {
        stream.addEventListener('message', (e) => { received += (e as unknown as { data: { byteLength: number } }).data.byteLength })
        stream.addEventListener('close', () => { resolve() })
      }, { runOnLimitedConnection: true })
    })
    // b reserves a slot on the relay and is reached only through it.
    await b.dial(multiaddr(wsOf(relay)))
    await until('the reservation is made', () => b.getMultiaddrs().some(m => m.toString().includes('/p2p-circuit')), 10_000)
    const conn = await a.dial(multiaddr(`${wsOf(relay)}/p2p-circuit/p2p/${b.peerId.toString()}`))
    assert.ok(conn.limits !== undefined || conn.remoteAddr.toString().includes('/p2p-circuit'), 'the connection goes through the relay')
    const stream = await conn.newStream(ECHO, { runOnLimitedConnection: true })
    const chunk = randomBytes(16 * 1024)
    try {
      for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
        if (!stream.send(chunk)) await stream.onDrain()
      }
      await stream.close()
    } catch {
      // The relay cut the circuit: count what arrived.
    }
    await Promise.race([done, new Promise(resolve => setTimeout(resolve, 5000))])
    return received
  } finally {
    await a.stop()
    await b.stop()
  }
}

describe('s3mesh relay', () => {
  const nodes: ServerProcess[] = []
  let relay: ServerProcess
  before(async () => {
    nodes.push(await startServerProcess())
    const key = /Cluster key:\s+(\S+)/.exec(nodes[0]!.output())![1]!
    nodes.push(await startServerProcess({ args: ['--join', nodes[0]!.meshAddress!], env: { S3MESH_CLUSTER_KEY: key } }))
    relay = await startServerProcess({ command: 'relay', args: ['--join', nodes[0]!.meshAddress!], env: { S3MESH_CLUSTER_KEY: key } })
    await until('every member lists the other two and the relay', async () => (await Promise.all(nodes.map(members))).every(l => l.length === 3))
  })
  after(async () => {
    await relay?.stop()
    for (const n of nodes) await n.stop()
  })

  it('is listed with role relay, never holds a replica, and answers S3 with NotImplemented without naming the storage nodes', async () => {
    assert.match(relay.output(), /relay \(holds no objects\)/)
    const seen = (await members(nodes[0]!)).find(m => m.id === idOf(relay))
    assert.equal(seen?.role, 'relay')
    const s3 = sdkClient(nodes[0]!.url)
    await s3.send(new CreateBucketCommand({ Bucket: 'relayed' }))
    for (let i = 0; i < 6; i++) {
      const put = await s3.send(new PutObjectCommand({ Bucket: 'relayed', Key: `k${i}`, Body: randomBytes(2048) }))
      assert.equal(put.$metadata.httpStatusCode, 200)
    }
    for (let i = 0; i < 6; i++) {
      const where = await (await root.fetch(`${nodes[1]!.url}/_s3mesh/v1/locate/relayed/k${i}`)).json() as { holders: Array<{ id: string }> }
      assert.deepEqual(where.holders.map(h => h.id).sort(), nodes.map(idOf).sort(), `k${i} is held by the two storage nodes`)
    }
    // The relay knows the objects (it admits tabs to them) and holds none.
    await until('the relay knows the objects', async () => (await (await root.fetch(`${relay.url}/_s3mesh/v1/locate/relayed/k5`)).json() as { holders: unknown[] }).holders.length === 2)
    assert.deepEqual((await readdir(relay.dataDir)).filter(n => n !== '.s3mesh'), [], 'no bucket folder on the relay')
    const res = await fetch(`${relay.url}/relayed/k0`)
    const body = await res.text()
    assert.equal(res.status, 501)
    assert.equal(errorCode(body), 'NotImplemented')
    assert.match(body, /holds no objects/)
    assert.ok(!nodes.some(n => body.includes(new URL(n.url).host)), 'an unsigned caller is not told where the storage nodes are')
  })

  it('admits a guest, whose feed it serves and whose reads come from the storage nodes', async () => {
    const libp2p = await peer()
    try {
      const res = await root.fetch(`${relay.url}/_s3mesh/v1/browser-join?peer=${libp2p.peerId.toString()}`)
      assert.equal(res.status, 200)
      const join = await res.json() as { admission: string, relays: string[], writers?: string[] }
      assert.ok(join.relays.every(r => r.endsWith(`/p2p/${idOf(relay)}`)), 'the tab is sent to the relay')
      assert.deepEqual([...join.writers ?? []].sort(), nodes.map(n => n.url).sort(), `its writes go to the storage nodes, in an order to fail over along: ${String(join.writers)}`)
      // A web app on another origin joins too: the preflight and the signed GET answer its origin.
      const preflight = await fetch(`${relay.url}/_s3mesh/v1/browser-join?peer=x`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,x-amz-date,x-amz-content-sha256' } })
      assert.equal(preflight.status, 204)
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example')
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/)
      const crossOrigin = await root.fetch(`${relay.url}/_s3mesh/v1/browser-join?peer=${libp2p.peerId.toString()}`, { headers: { origin: 'https://app.example' } })
      assert.equal(crossOrigin.status, 200)
      assert.equal(crossOrigin.headers.get('access-control-allow-origin'), 'https://app.example')
      const members = await root.fetch(`${relay.url}/_s3mesh/v1/members`, { headers: { origin: 'https://app.example' } })
      assert.equal(members.headers.get('access-control-allow-origin'), null, 'only the join\'s paths answer other origins')
      const guest = new GuestMember({ libp2p, store: new MemoryStore(), hashes: nodeHashes, cluster: 's3mesh', admission: new Uint8Array(Buffer.from(join.admission, 'base64')), relays: join.relays, retryMs: 200 })
      await libp2p.dial(multiaddr(join.relays[0]!))
      await guest.start()
      try {
        await guest.synced
        assert.equal(guest.node, idOf(relay), 'it follows the relay')
        assert.ok(guest.catalog.get('relayed') !== undefined, 'the relay\'s feed carries the bucket')
        assert.ok((await guest.list('relayed', { limit: 1000 })).entries.some(e => e.key === 'k3'), 'the relay lists its objects')
        const entry = await guest.lookup('relayed', 'k3')
        assert.ok(entry !== undefined, 'and looks one up')
        const held = await guest.fetch(entry)
        assert.ok(held.holders.includes(libp2p.peerId.toString()), 'read from a storage node, verified, and held')
      } finally {
        await guest.stop()
      }
    } finally {
      await libp2p.stop()
    }
  })

  it('carries a circuit past libp2p\'s 128 KiB default, and --circuit-bytes caps it', async (t) => {
    const MiB = 1024 * 1024
    assert.equal(await throughCircuit(relay, 2 * MiB), 2 * MiB, '2 MiB through the relay\'s circuit')
    const key = /Cluster key:\s+(\S+)/.exec(nodes[0]!.output())![1]!
    const capped = await startServerProcess({ command: 'relay', args: ['--join', nodes[0]!.meshAddress!, '--circuit-bytes', '256K'], env: { S3MESH_CLUSTER_KEY: key } })
    t.after(async () => { await capped.stop() })
    const got = await throughCircuit(capped, 2 * MiB)
    assert.ok(got < 2 * MiB && got <= 256 * 1024 + 64 * 1024, `a relay capped at 256 KiB carried ${got} bytes`)
  })

  it('gives a reservation, and carries a circuit, only for a peer it admitted', async () => {
    const [stranger, tab] = [await peer(), await peer(true)]
    try {
      const refused = await reserve(relay, stranger)
      assert.equal(refused.status, 202, 'a peer that joined nothing: PERMISSION_DENIED')
      assert.ok(refused.ms >= 2_500, `after waiting for an admission (${refused.ms} ms)`)
      await admit(relay, stranger)
      assert.equal((await reserve(relay, stranger)).status, 100, 'once admitted: OK')
      // A tab failing over to a node asks for its reservation as it connects, a moment before its first request shows
      // its admission: the relay waits for it a while.
      const late = await peer()
      try {
        const asked = await reserve(relay, late, async () => {
          await new Promise(resolve => setTimeout(resolve, 500))
          await admit(relay, late)
        })
        assert.equal(asked.status, 100, 'asked before the admission came: OK once it does')
        assert.ok(asked.ms >= 500, `the answer waited for the admission (${asked.ms} ms)`)
      } finally {
        await late.stop()
      }
      // A tab reserved on the relay; a peer that joined nothing cannot open a circuit to it.
      await admit(relay, tab)
      await tab.dial(multiaddr(wsOf(relay)))
      await until('the tab\'s reservation is made', () => tab.getMultiaddrs().some(m => m.toString().includes('/p2p-circuit')), 10_000)
      const other = await peer()
      try {
        await assert.rejects(other.dial(multiaddr(`${wsOf(relay)}/p2p-circuit/p2p/${tab.peerId.toString()}`)), /PERMISSION_DENIED|denied/i, 'a circuit from a peer the relay did not admit')
        await admit(relay, other)
        const conn = await other.dial(multiaddr(`${wsOf(relay)}/p2p-circuit/p2p/${tab.peerId.toString()}`))
        assert.ok(conn.remoteAddr.toString().includes('/p2p-circuit'), 'once admitted, the circuit opens')
      } finally {
        await other.stop()
      }
    } finally {
      await stranger.stop()
      await tab.stop()
    }
  })

  it('refuses to start without --join, on a folder that holds objects, or with limits that would refuse everything', async () => {
    await assert.rejects(startServerProcess({ command: 'relay' }), /A relay joins an existing mesh: give --join/)
    const join = ['--join', nodes[0]!.meshAddress!]
    await assert.rejects(startServerProcess({ command: 'relay', dataDir: nodes[1]!.dataDir, args: join }), /holds relayed.*a relay holds no objects/)
    await assert.rejects(startServerProcess({ command: 'relay', args: [...join, '--relay-reservations', '0'] }), /--relay-reservations takes 1 or more/)
    await assert.rejects(startServerProcess({ command: 'relay', args: [...join, '--circuits-per-peer', '0'] }), /--circuits-per-peer takes 1 or more/)
    await assert.rejects(startServerProcess({ command: 'relay', args: [...join, '--circuit-duration', '3000000'] }), /--circuit-duration takes 0 \(no limit\) or more, up to 2147483/)
  })
})

