/**
 * Guests: peers admitted without the cluster key (what a browser tab is),
 * against two real `s3mesh server` processes. A Node-side libp2p client with
 * a scoped user's admission follows a node's feed, fetches what the user may
 * read and nothing else; a hostile one holding the same admission tries
 * every way past it, and each is refused, counted in /metrics, and changes
 * nothing on the durable members. Revocation is measured.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join as joinPath } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { MemoryStore } from '../../src/core/memory-store.js'
import { objectTags } from '../../src/core/object-store.js'
import { decodeCatalogMessage, encodeCatalogMessage } from '../../src/core/mesh/catalog-codec.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { GuestMember } from '../../src/core/mesh/guest-member.js'
import { GuestStore } from '../../src/core/mesh/guest-store.js'
import { compareVersions } from '../../src/core/mesh/hlc.js'
import { GatewayStore } from '../../src/gateway/gateway-store.js'
import { RemoteS3 } from '../../src/gateway/remote-s3.js'
import { GUEST_PROTOCOL, GUEST_TRANSFER_PROTOCOL } from '../../src/core/mesh/guest-service.js'
import { SYNC_PROTOCOL } from '../../src/core/mesh/anti-entropy.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { openStream } from '../../src/core/wire/open-stream.js'
import { PLAIN_FRAMES, SealedFrames } from '../../src/core/wire/sealed-frames.js'
import { nodeHashes } from '../../src/node/node-hashes.js'
import { iamCall, userWithPolicy, type IamCall } from '../helpers/iam.js'
import { ACCESS_KEY, SECRET_KEY, metric, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { signer } from '../helpers/s3-client.js'
import { until } from '../helpers/until.js'

const root = signer()
const ADMISSION_SECONDS = 4
const ROOT_CREDS = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }

/** The join answer, read as any JSON: a cluster key in it would show. */
interface Join { admission: string, relays: string[], expires: number, clusterKeys?: unknown, principal: { kind: string, user?: string } }

async function guestNode (key?: PrivateKey): Promise<Libp2p> {
  return await createLibp2p({
    ...(key === undefined ? {} : { privateKey: key }),
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() },
  })
}

/** Asks a node to admit `peer` with the given credentials (the browser-join a tab makes). */
async function join (node: ServerProcess, creds: { accessKeyId: string, secretAccessKey: string }, peer: string): Promise<Join> {
  const res = await s3Signer(creds).fetch(`${node.url}/_s3mesh/v1/browser-join?peer=${encodeURIComponent(peer)}`)
  const text = await res.text()
  assert.equal(res.status, 200, text)
  return JSON.parse(text) as Join
}

/**
 * Renews a guest's admission at half its life, as a tab does, until `stop()`;
 * `current()` is the latest one.
 */
function keepRenewed (node: ServerProcess, creds: { accessKeyId: string, secretAccessKey: string }, peer: string, guest: GuestMember, first: Join): { current: () => Join, stop: () => void } {
  let latest = first
  const timer = setInterval(() => {
    void join(node, creds, peer).then(async next => { latest = next; await guest.renew(b64(next.admission)) }).catch((err: unknown) => { process.stderr.write(`renewal failed: ${String(err)}\n`) })
  }, ADMISSION_SECONDS * 500)
  return { current: () => latest, stop: () => { clearInterval(timer) } }
}

/** A fresh guest's libp2p node, admitted as root by `node` and connected to its relay. */
async function rootGuest (node: ServerProcess): Promise<{ peer: string, libp2p: Libp2p, joined: Join }> {
  const key = await generateKeyPair('Ed25519')
  const peer = peerIdFromPrivateKey(key).toString()
  const libp2p = await guestNode(key)
  const joined = await join(node, ROOT_CREDS, peer)
  await libp2p.dial(multiaddr(joined.relays[0]!))
  return { peer, libp2p, joined }
}

/** A node's libp2p peer id, from its mesh address. */
const idOf = (n: ServerProcess): string => n.meshAddress!.split('/p2p/')[1]!

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))

/** One request on a guest protocol, with the answer's first frame. */
async function ask (libp2p: Libp2p, peer: string, protocol: string, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const frames = new SealedFrames(await openStream(libp2p, peer, protocol, AbortSignal.timeout(10_000)), PLAIN_FRAMES, { idleTimeoutMs: 10_000 })
  try {
    await frames.send(request)
    return await frames.receive()
  } finally {
    frames.abort(new Error('done'))
  }
}

async function refused (node: ServerProcess, reason: string): Promise<number> {
  const v = await metric(node, `s3mesh_guest_refused_total{reason="${reason}"}`)
  return Number.isNaN(v) ? 0 : v
}

/** What a node's disk holds under a bucket: names and sizes, to compare before and after. */
async function files (node: ServerProcess, bucket: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(joinPath(dir, e.name))
      else out.push(joinPath(dir, e.name).slice(node.dataDir.length))
    }
  }
  await walk(joinPath(node.dataDir, bucket))
  return out.sort()
}

describe('guests: peers without the cluster key, each with its user\'s rights', () => {
  const nodes: ServerProcess[] = []
  let reader: { accessKeyId: string, secretAccessKey: string }
  let iam: IamCall
  const publicBody = randomBytes(200 * 1024)
  let key: PrivateKey
  let peer: string
  let libp2p: Libp2p

  /** Connects a guest's libp2p node to every node over its WebSockets (the relays each node's join names). */
  const connectAll = async (l: Libp2p): Promise<void> => {
    for (const n of nodes) await l.dial(multiaddr((await join(n, reader, peer)).relays[0]!))
  }

  before(async () => {
    const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64'), S3MESH_ADMISSION_SECONDS: String(ADMISSION_SECONDS) }
    const args = ['--membership', 'local', '--replicas', '2']
    nodes.push(await startServerProcess({ env, args }))
    nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    iam = iamCall(nodes[0]!.url)
    const [accessKeyId, secretAccessKey] = await userWithPolicy(iam, 'scoped', [
      { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/public/*' },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::shared', Condition: { StringLike: { 's3:prefix': 'public/*' } } },
      { Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/public/no-read/*' },
    ])
    reader = { accessKeyId, secretAccessKey }
    assert.equal((await root.fetch(`${nodes[0]!.url}/shared`, { method: 'PUT' })).status, 200)
    assert.equal((await root.fetch(`${nodes[0]!.url}/shared/public/a.bin`, { method: 'PUT', body: publicBody })).status, 200)
    assert.equal((await root.fetch(`${nodes[1]!.url}/shared/private/b.txt`, { method: 'PUT', body: 'not for guests' })).status, 200)
    assert.equal((await root.fetch(`${nodes[0]!.url}/shared/public/no-read/m.txt`, { method: 'PUT', body: 'listed, not read', headers: { 'x-amz-meta-owner': 'ann', 'x-amz-tagging': 'team=blue' } })).status, 200)
    key = await generateKeyPair('Ed25519')
    peer = peerIdFromPrivateKey(key).toString()
    libp2p = await guestNode(key)
  })
  after(async () => {
    await libp2p?.stop()
    for (const n of nodes) await n.stop().catch(() => {})
  })

  it('browser-join admits any user\'s tab, and gives a cluster key to nobody, root included', async () => {
    const scoped = await join(nodes[0]!, reader, peer)
    assert.equal(scoped.principal.user, 'scoped')
    assert.equal(scoped.clusterKeys, undefined, 'a user\'s tab gets no cluster key')
    const rootJoin = await join(nodes[0]!, ROOT_CREDS, peer)
    assert.equal(rootJoin.principal.kind, 'root')
    assert.equal(rootJoin.clusterKeys, undefined, 'nor does root\'s')
    assert.ok(scoped.expires - Date.now() <= ADMISSION_SECONDS * 1000 + 1000)
    const bad = await s3Signer({ ...reader, secretAccessKey: 'wrong-secret-000' }).fetch(`${nodes[0]!.url}/_s3mesh/v1/browser-join?peer=${peer}`)
    assert.equal(bad.status, 403, 'a wrong secret is refused')
    const noPeer = await s3Signer(reader).fetch(`${nodes[0]!.url}/_s3mesh/v1/browser-join`)
    assert.equal(noPeer.status, 400, 'the peer id is required')
  })

  it('a guest follows the feed of what its user may list, and fetches what it may read', async () => {
    const admission = await join(nodes[0]!, reader, peer)
    const filteredBefore = await metric(nodes[0]!, 's3mesh_guest_entries_filtered_total')
    // Addresses a guest gives: only one through a durable member's relay is passed on to other guests.
    const relayed = `${admission.relays[0]!}/p2p-circuit/p2p/${peer}`
    const addresses = (): string[] => [`/dns4/elsewhere.example/tcp/443/wss/p2p/${peer}`, relayed]
    const guest = new GuestMember({ libp2p, store: new MemoryStore(), hashes: nodeHashes, cluster: 's3mesh', admission: b64(admission.admission), relays: admission.relays, retryMs: 200, addresses })
    await libp2p.dial(multiaddr(admission.relays[0]!))
    await guest.start()
    const renewing = keepRenewed(nodes[0]!, reader, peer, guest, admission)
    try {
      await guest.synced
      assert.ok(guest.catalog.get('shared') !== undefined, 'the feed gave the bucket')
      assert.deepEqual([...guest.catalog.entries('shared')].filter(e => e.key !== undefined), [], 'and no object: the guest holds none and watches no bucket')
      const page = await guest.list('shared', { limit: 1000 })
      assert.deepEqual(page.entries.map(e => e.key), ['public/a.bin', 'public/no-read/m.txt'], 'a listing from the node has the keys it may list, not the one outside its grant')
      assert.equal(page.isTruncated, false)
      assert.ok(await metric(nodes[0]!, 's3mesh_guest_entries_filtered_total') > filteredBefore, 'held back, and counted')
      assert.deepEqual([...guest.peers.values()].filter(p => p.role === 'durable').map(p => p.id).sort(), nodes.map(idOf).sort(), 'it learns the durable members')
      const entry = (await guest.lookup('shared', 'public/a.bin'))!
      const held = await guest.fetch(entry)
      assert.ok(held.holders.includes(peer), 'kept, and held')
      const handle = await guest.copies.openLocal('shared', 'public/a.bin', entry.object!.sha256)
      assert.ok(Buffer.from(await new Response(handle!.stream()).arrayBuffer()).equals(publicBody), 'the same bytes')
      await handle!.close()
      // The node it follows took the holding, for the guests following it; the replicated catalog does not carry it.
      await until('the node names the guest as a holder to its guests', async () => {
        const answer = await ask(libp2p, idOf(nodes[0]!), GUEST_PROTOCOL, { admission: b64(renewing.current().admission), op: 'lookup', bucket: 'shared', key: 'public/a.bin' })
        return answer.entries instanceof Uint8Array && decodeCatalogMessage(answer.entries).entries[0]!.holders.includes(peer)
      })
      for (const n of nodes) {
        const where = await (await root.fetch(`${n.url}/_s3mesh/v1/locate/shared/public/a.bin`)).json() as { holders: Array<{ id: string }> }
        assert.ok(!where.holders.some(h => h.id === peer), `${n.url}'s catalog does not list the guest`)
      }
      // Still following past the first admission's expiry: the renewals were taken.
      await new Promise(resolve => setTimeout(resolve, ADMISSION_SECONDS * 1000 + 500))
      assert.equal(guest.stats.refused, undefined, 'the renewed admission kept the feed')
      const listed = (await (await root.fetch(`${nodes[0]!.url}/_s3mesh/v1/members`)).json() as { members: Array<{ id: string, role?: string, addresses: string[] }> }).members.find(m => m.id === peer)
      assert.equal(listed?.role, 'guest', 'the node lists the guest')
      assert.deepEqual(listed.addresses, [relayed], 'with only its address through the relay')
    } finally {
      renewing.stop()
      await guest.stop()
    }
  })

  it('a guest\'s join moves the buckets and what it holds, not the catalog; its feed tells it of what it holds and watches, nothing else', async () => {
    const n0 = nodes[0]!
    const put = async (key: string, body: string): Promise<void> => { assert.equal((await root.fetch(`${n0.url}/many/${key}`, { method: 'PUT', body })).status, 200) }
    assert.equal((await root.fetch(`${n0.url}/many`, { method: 'PUT' })).status, 200)
    for (let i = 0; i < 400; i += 20) await Promise.all(Array.from({ length: 20 }, async (_, j) => { await put(`k-${String(i + j).padStart(4, '0')}`, `object ${i + j}`) }))
    const { peer: guestPeer, libp2p: l, joined: a } = await rootGuest(n0)
    try {
      // What a join moves: the feed's snapshot, as the node sends it to a guest that holds one of the 400.
      const frames = new SealedFrames(await openStream(l, idOf(n0), GUEST_PROTOCOL, AbortSignal.timeout(10_000)), PLAIN_FRAMES, { idleTimeoutMs: 10_000 })
      await frames.send({ admission: b64(a.admission), op: 'feed', follow: false, held: [['many', 'k-0005']] })
      const fed: CatalogEntry[] = []
      let bytes = 0
      for (;;) {
        const m = await frames.receive()
        if (m.entries instanceof Uint8Array) { fed.push(...decodeCatalogMessage(m.entries).entries); bytes += m.entries.byteLength }
        if (m.synced === true) break
      }
      frames.abort(new Error('done'))
      assert.deepEqual(fed.filter(e => e.key !== undefined).map(e => e.key), ['k-0005'], 'of 400 objects, only the held one')
      assert.ok(bytes < 4096, `the snapshot is small: ${bytes} bytes`)

      // A guest whose own store holds k-0005's bytes: it learns that entry at join and claims its copy.
      const store = new MemoryStore()
      await store.createBucket('many')
      await store.putObject('many', 'k-0005', new Response('object 5').body!, { metadata: { user: {} } })
      const guest = new GuestMember({ libp2p: l, store, hashes: nodeHashes, cluster: 's3mesh', admission: b64(a.admission), relays: a.relays, retryMs: 200 })
      await guest.start()
      try {
        await guest.synced
        await until('the guest claims the copy it holds', () => guest.catalog.get('many', 'k-0005')?.holders.includes(guestPeer) === true)
        assert.ok(guest.trusts('many', 'k-0005'), 'a held key is kept current by the feed')
        assert.equal(guest.trusts('many', 'k-0006'), false, 'another is not')
        // A key it neither holds nor watches changes: not told. The one it holds: told, and its stale copy goes.
        await put('k-0006', 'changed 6')
        await put('k-0005', 'changed 5')
        await until('the held key\'s new version reaches the guest', () => guest.catalog.get('many', 'k-0005')?.object?.size === 'changed 5'.length)
        await until('its stale copy is dropped', async () => (await store.listObjects('many', { limit: 10 })).objects.length === 0)
        assert.equal(guest.catalog.get('many', 'k-0006'), undefined, 'the unwatched key\'s change was not sent')
        // Watching the bucket (a page showing it): every change comes, until the page lets go.
        const release = guest.watch(['many'])
        await until('the node has the watch', async () => {
          await put('k-0007', `watched ${Date.now()}`)
          return guest.catalog.get('many', 'k-0007') !== undefined
        })
        release()
        await put('k-0008', 'after the watch')
        await put('k-0005', 'changed again')
        await until('a held key still comes', () => guest.catalog.get('many', 'k-0005')?.object?.size === 'changed again'.length)
        assert.equal(guest.catalog.get('many', 'k-0008'), undefined, 'a change after the watch ended was not sent')
        assert.equal(guest.catalog.get('many', 'k-0007'), undefined, 'and what the watch brought was dropped with it')
        // Listing pages the node's catalog: 400 keys and more, a page at a time.
        let listed = 0
        let startAfter: string | undefined
        for (;;) {
          const page = await guest.list('many', { limit: 1000, ...(startAfter === undefined ? {} : { startAfter }) })
          listed += page.entries.length
          if (!page.isTruncated) break
          startAfter = page.after
        }
        assert.equal(listed, 400)
        assert.deepEqual(await guest.totals(['many']), new Map([['many', { objects: 400, bytes: (await guest.list('many', { limit: 1000 })).entries.reduce((n, e) => n + e.object!.size, 0) }]]))
      } finally {
        await guest.stop()
      }

      // Announcing a copy of a version that was replaced meanwhile: the answer names the newer one.
      const old = decodeCatalogMessage((await ask(l, idOf(n0), GUEST_PROTOCOL, { admission: b64(a.admission), op: 'lookup', bucket: 'many', key: 'k-0009' })).entries as Uint8Array).entries[0]!
      await put('k-0009', 'replaced')
      const told = await ask(l, idOf(n0), GUEST_PROTOCOL, { admission: b64(a.admission), op: 'announce', entries: encodeCatalogMessage([{ ...old, holders: [guestPeer] }]) })
      assert.equal(told.taken, 0)
      assert.equal(decodeCatalogMessage(told.newer as Uint8Array).entries[0]!.object!.size, 'replaced'.length, 'the newer version, so the guest drops its stale copy')
    } finally {
      await l.stop()
    }
  })

  it('a guest\'s write is kept in its own store under the node\'s version, also a rewrite of the same bytes, learnt from the PUT\'s answer (or asked for when the answer lacks it)', async () => {
    const n0 = nodes[0]!
    assert.equal((await root.fetch(`${n0.url}/rewrites`, { method: 'PUT' })).status, 200)
    const { peer: guestPeer, libp2p: l, joined } = await rootGuest(n0)
    const local = new MemoryStore()
    const guest = new GuestMember({ libp2p: l, store: local, hashes: nodeHashes, cluster: 's3mesh', admission: b64(joined.admission), relays: joined.relays, retryMs: 200 })
    await guest.start()
    // The admission lasts seconds here.
    const renewing = keepRenewed(n0, ROOT_CREDS, guestPeer, guest, joined)
    try {
      await guest.synced
      const remote = new RemoteS3({ endpoints: [n0.url], accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, timeoutMs: 10_000, retryAfterMs: 0 })
      const gateway = new GatewayStore({ remote, cacheTtlMs: 0, cacheMaxObjectBytes: 0, replayableBytes: 1 << 20, askEntries: true })
      // The second half of the writes go through a writer whose answers lack the entry (a node before it gave one).
      let withEntry = true
      const writer = Object.assign(Object.create(gateway) as GatewayStore, {
        putObject: async (...args: Parameters<GatewayStore['putObject']>) => {
          const { entry, ...info } = await gateway.putObject(...args)
          if (withEntry) assert.ok(entry !== undefined, 'the node answered the write with its entry')
          return withEntry ? { ...info, entry } : info
        },
      })
      const store = new GuestStore(guest, writer)
      let lookups = 0
      const lookup = guest.lookup.bind(guest)
      guest.lookup = async (...args) => { lookups++; return await lookup(...args) }
      const nodeVersion = async (): Promise<CatalogEntry> => decodeCatalogMessage((await ask(l, idOf(n0), GUEST_PROTOCOL, { admission: b64(renewing.current().admission), op: 'lookup', bucket: 'rewrites', key: 'same' })).entries as Uint8Array).entries[0]!
      const versions: CatalogEntry[] = []
      for (let i = 0; i < 4; i++) {
        withEntry = i < 2
        const asked = lookups
        const info = await store.putObject('rewrites', 'same', new Response('the same bytes').body!, { metadata: { user: {} } })
        assert.equal(lookups - asked, withEntry ? 0 : 1, `write ${i + 1}: ${withEntry ? 'no lookup: the answer had the entry' : 'looked up: the answer had no entry'}`)
        const atNode = await nodeVersion()
        assert.equal(atNode.object?.sha256, info.sha256)
        // The write answered only once the tab's copy was kept: under the version the node made, not the one before.
        const entry = guest.catalog.get('rewrites', 'same')
        assert.equal(compareVersions(entry!.version, atNode.version), 0, `write ${i + 1}: the tab's entry is the node's version`)
        assert.ok(entry!.holders.includes(guestPeer), `write ${i + 1}: the tab holds it`)
        assert.equal(await new Response((await local.openObject('rewrites', 'same')).stream()).text(), 'the same bytes')
        versions.push(atNode)
      }
      for (let i = 1; i < versions.length; i++) assert.ok(compareVersions(versions[i]!.version, versions[i - 1]!.version) > 0, `rewrite ${i + 1} is a new version`)
    } finally {
      renewing.stop()
      await guest.stop()
      await l.stop()
    }
  })

  it('a guest reads the tags of an object its user may not read from the node, not as none from its entry (a change of one tag would wipe the rest)', async () => {
    const n0 = nodes[0]!
    assert.equal((await root.fetch(`${n0.url}/guest-tags`, { method: 'PUT' })).status, 200)
    assert.equal((await root.fetch(`${n0.url}/guest-tags/t.txt`, { method: 'PUT', body: 'tagged', headers: { 'x-amz-tagging': 'team=blue&tier=gold' } })).status, 200)
    const [id, secret] = await userWithPolicy(iam, 'guest-tagger', [
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: 'arn:aws:s3:::guest-tags' },
      { Effect: 'Allow', Action: ['s3:GetObjectTagging', 's3:PutObjectTagging'], Resource: 'arn:aws:s3:::guest-tags/*' },
    ])
    const creds = { accessKeyId: id, secretAccessKey: secret }
    const key = await generateKeyPair('Ed25519')
    const guestPeer = peerIdFromPrivateKey(key).toString()
    const l = await guestNode(key)
    const joined = await join(n0, creds, guestPeer)
    await l.dial(multiaddr(joined.relays[0]!))
    const guest = new GuestMember({ libp2p: l, store: new MemoryStore(), hashes: nodeHashes, cluster: 's3mesh', admission: b64(joined.admission), relays: joined.relays, retryMs: 200 })
    await guest.start()
    const renewing = keepRenewed(n0, creds, guestPeer, guest, joined)
    try {
      await guest.synced
      const writer = new GatewayStore({ remote: new RemoteS3({ endpoints: [n0.url], ...creds, timeoutMs: 10_000, retryAfterMs: 0 }), cacheTtlMs: 0, cacheMaxObjectBytes: 0, replayableBytes: 1 << 20 })
      const store = new GuestStore(guest, writer)
      const listed = (await guest.list('guest-tags', { limit: 10 })).entries
      assert.deepEqual(listed.map(e => [e.key, e.object?.tags]), [['t.txt', {}]], 'the precondition: the entry the tab gets holds no tags (its user may not read the object)')
      assert.deepEqual((await objectTags(store, 'guest-tags', 't.txt')).tags, { team: 'blue', tier: 'gold' })
    } finally {
      renewing.stop()
      await guest.stop()
      await l.stop()
    }
  })

  it('a PUT that asks for its entry (x-s3mesh-entry: 1) is answered with the catalog entry of the version it wrote, if its caller signed it, may read the key and the entry is small; others get none', async () => {
    const n0 = nodes[0]!
    assert.equal((await root.fetch(`${n0.url}/entries`, { method: 'PUT' })).status, 200)
    const plain = await root.fetch(`${n0.url}/entries/k`, { method: 'PUT', body: 'first' })
    assert.equal(plain.status, 200)
    assert.equal(plain.headers.get('x-s3mesh-entry'), null)
    // A user who may write the key but not read it (a lookup would be refused to it): written, no entry.
    const [id, secret] = await userWithPolicy(iam, 'entries-writer', [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::entries/*' }])
    const writeOnly = await s3Signer({ accessKeyId: id, secretAccessKey: secret }).fetch(`${n0.url}/entries/w`, { method: 'PUT', body: 'by a writer', headers: { 'x-s3mesh-entry': '1' } })
    assert.equal(writeOnly.status, 200)
    assert.equal(writeOnly.headers.get('x-s3mesh-entry'), null, 'no entry for a caller that may not read the key')
    // A presigned PUT whose holder added the header: written, no entry (the root who signed it did not ask).
    const url = await root.sign(`${n0.url}/entries/presigned`, { method: 'PUT', aws: { signQuery: true } })
    const presigned = await fetch(url, { method: 'PUT', body: 'by whoever holds the URL', headers: { 'x-s3mesh-entry': '1' } })
    assert.equal(presigned.status, 200, await presigned.clone().text())
    assert.equal(presigned.headers.get('x-s3mesh-entry'), null, 'no entry for a presigned request')
    // An entry too large for a proxy's header buffer: written, no entry.
    const large = await root.fetch(`${n0.url}/entries/big`, { method: 'PUT', body: 'x', headers: { 'x-s3mesh-entry': '1', 'x-amz-meta-note': 'n'.repeat(1800) } })
    assert.equal(large.status, 200)
    assert.equal(large.headers.get('x-s3mesh-entry'), null, 'no entry past 2 KiB')
    const asked = await root.fetch(`${n0.url}/entries/k`, { method: 'PUT', body: 'second', headers: { 'x-s3mesh-entry': '1' } })
    assert.equal(asked.status, 200)
    const entries = decodeCatalogMessage(Buffer.from(asked.headers.get('x-s3mesh-entry') ?? '', 'base64')).entries
    assert.equal(entries.length, 1)
    const e = entries[0]!
    assert.deepEqual([e.bucket, e.key, e.deleted], ['entries', 'k', false])
    assert.equal(e.object?.sha256, asked.headers.get('x-s3mesh-sha256'))
    assert.equal(`"${e.object?.etag ?? ''}"`, asked.headers.get('etag'))
    assert.equal(e.holders.length, Number(asked.headers.get('x-s3mesh-replicas')), 'the holders the write was announced with')
    // The node's own view of the key is that version.
    const l = await guestNode()
    try {
      const a = await join(n0, ROOT_CREDS, l.peerId.toString())
      await l.dial(multiaddr(a.relays[0]!))
      const atNode = decodeCatalogMessage((await ask(l, idOf(n0), GUEST_PROTOCOL, { admission: b64(a.admission), op: 'lookup', bucket: 'entries', key: 'k' })).entries as Uint8Array).entries[0]!
      assert.equal(compareVersions(atNode.version, e.version), 0)
    } finally {
      await l.stop()
    }
  })

  it('a hostile guest holding that admission is refused every way past it, counted, and changes nothing', async () => {
    const a = await join(nodes[0]!, reader, peer)
    const admission = b64(a.admission)
    await connectAll(libp2p)
    const [n0, n1] = nodes.map(idOf) as [string, string]
    const before = { files: await Promise.all(nodes.map(async n => await files(n, 'shared'))), list: await (await root.fetch(`${nodes[0]!.url}/shared?list-type=2`)).text() }
    const counts = async (reason: string): Promise<number> => (await refused(nodes[0]!, reason)) + (await refused(nodes[1]!, reason))
    const private_ = await (await root.fetch(`${nodes[0]!.url}/_s3mesh/v1/locate/shared/private/b.txt`)).json() as { sha256: string, holders: Array<{ id: string }> }
    const publicEntry = await (await root.fetch(`${nodes[0]!.url}/_s3mesh/v1/locate/shared/public/a.bin`)).json() as { version: string }
    assert.ok(private_.sha256.length === 64 && publicEntry.version !== undefined)

    // 1. Fetching an object outside its prefix, from a node that holds it.
    let denied = await counts('denied')
    const got = await ask(libp2p, private_.holders[0]!.id, GUEST_TRANSFER_PROTOCOL, { admission, op: 'get', bucket: 'shared', key: 'private/b.txt', sha256: private_.sha256, offset: 0 })
    assert.equal(got.status, 'denied')
    assert.equal(await counts('denied'), denied + 1, 'counted')

    // 2. Announcing a write: a new version of a key (its user may not write), and a delete.
    const fake: CatalogEntry = { bucket: 'shared', key: 'public/a.bin', version: { ms: Date.now(), counter: 0, node: peer }, deleted: false, holders: [peer], object: { size: 3, etag: 'x', sha256: 'f'.repeat(64), lastModified: Date.now(), metadata: { user: {} }, tags: {} } }
    const tomb: CatalogEntry = { bucket: 'shared', key: 'public/a.bin', version: { ms: Date.now() + 1, counter: 0, node: peer }, deleted: true, holders: [] }
    denied = await counts('denied')
    for (const e of [fake, tomb]) {
      const answer = await ask(libp2p, n0, GUEST_PROTOCOL, { admission, op: 'announce', entries: encodeCatalogMessage([e]) })
      assert.equal(answer.taken, 0)
    }
    assert.equal(await counts('denied'), denied + 2, 'both refused as its user may not write, counted')

    // 3. The feed: the buckets, no object (it holds none, watches none). A listing: only what it may list comes back,
    // the rest held back and counted.
    const filtered = await metric(nodes[1]!, 's3mesh_guest_entries_filtered_total')
    const frames = new SealedFrames(await openStream(libp2p, n1, GUEST_PROTOCOL, AbortSignal.timeout(10_000)), PLAIN_FRAMES, { idleTimeoutMs: 10_000 })
    await frames.send({ admission, op: 'feed', follow: false, held: [['shared', 'private/b.txt'], ['shared', 'public/a.bin']] })
    const fed: CatalogEntry[] = []
    for (;;) {
      const m = await frames.receive()
      if (m.entries instanceof Uint8Array) fed.push(...decodeCatalogMessage(m.entries).entries)
      if (m.synced === true) break
    }
    frames.abort(new Error('done'))
    assert.deepEqual(fed.map(e => `${e.bucket}/${e.key ?? ''}`).sort(), ['shared/', 'shared/public/a.bin'], 'the bucket and the held key it may list; a held key outside its grant is not sent')
    const listedAnswer = await ask(libp2p, n1, GUEST_PROTOCOL, { admission, op: 'list', bucket: 'shared', limit: 1 })
    assert.equal(listedAnswer.truncated, true, 'a page of one says more follow')
    const listedMore = await ask(libp2p, n1, GUEST_PROTOCOL, { admission, op: 'list', bucket: 'shared', limit: 1000, startAfter: listedAnswer.after })
    const synced = [...decodeCatalogMessage(listedAnswer.entries as Uint8Array).entries, ...decodeCatalogMessage(listedMore.entries as Uint8Array).entries]
    const keys = synced.map(e => `${e.bucket}/${e.key ?? ''}`)
    // Listed but not readable: its name and size, not its metadata or tags (those need s3:GetObject).
    const listedOnly = synced.find(e => e.key === 'public/no-read/m.txt')
    assert.ok(listedOnly !== undefined, 'listable: sent')
    assert.deepEqual([listedOnly.object!.metadata.user, listedOnly.object!.tags], [{}, {}], 'without metadata and tags')
    assert.deepEqual(keys, ['shared/public/a.bin', 'shared/public/no-read/m.txt'], `nothing outside its grant: ${keys.join(', ')}`)
    assert.ok(await metric(nodes[1]!, 's3mesh_guest_entries_filtered_total') > filtered, 'what was held back is counted')
    const otherBucket = await ask(libp2p, n1, GUEST_PROTOCOL, { admission, op: 'totals', buckets: ['shared'] })
    assert.deepEqual(otherBucket.totals, [], 'no totals of a bucket it may list only in part (a count tells of every key)')
    // And the members' own anti-entropy, which needs the cluster key, gives it nothing at all.
    await assert.rejects(async () => {
      const s = new SealedFrames(await openStream(libp2p, n1, SYNC_PROTOCOL, AbortSignal.timeout(5000)), PLAIN_FRAMES, { idleTimeoutMs: 5000 })
      await s.send({ digests: [] })
      await s.receive()
    })

    // 4. Another tab's admission, presented from a different peer id.
    const thief = await guestNode()
    try {
      const wrongPeer = await counts('wrong-peer')
      await thief.dial(multiaddr(a.relays[0]!))
      const stolen = await ask(thief, n0, GUEST_PROTOCOL, { admission, op: 'lookup', bucket: 'shared', key: 'public/a.bin' })
      assert.equal(stolen.reason, 'wrong-peer')
      assert.equal(await counts('wrong-peer'), wrongPeer + 1)
    } finally {
      await thief.stop()
    }

    // 5. A forged admission: the same body, signed by the guest itself.
    const badSig = await counts('bad-signature')
    const { decode, encode } = await import('cborg')
    const env = decode(admission) as { body: Uint8Array, sig: Uint8Array, issuer: string }
    const forged = encode({ body: env.body, sig: await key.sign(env.body), issuer: env.issuer })
    assert.equal((await ask(libp2p, n0, GUEST_PROTOCOL, { admission: forged, op: 'lookup', bucket: 'shared', key: 'public/a.bin' })).reason, 'bad-signature')
    assert.equal(await counts('bad-signature'), badSig + 1)

    // 6. The admission once expired.
    await new Promise(resolve => setTimeout(resolve, a.expires - Date.now() + 200))
    const expired = await counts('expired')
    assert.equal((await ask(libp2p, n0, GUEST_PROTOCOL, { admission, op: 'lookup', bucket: 'shared', key: 'public/a.bin' })).reason, 'expired')
    assert.equal(await counts('expired'), expired + 1)

    // Nothing changed on the durable members: the files on their disks, the listing, the version.
    assert.deepEqual(await Promise.all(nodes.map(async n => await files(n, 'shared'))), before.files)
    assert.equal(await (await root.fetch(`${nodes[0]!.url}/shared?list-type=2`)).text(), before.list)
    const after = await (await root.fetch(`${nodes[1]!.url}/_s3mesh/v1/locate/shared/public/a.bin`)).json() as { version: string }
    assert.equal(after.version, publicEntry.version, 'the announced write and delete were not forwarded')
  })

  it('a disabled user\'s guest is refused by every durable member at once (measured)', async () => {
    const a = await join(nodes[0]!, reader, peer)
    const admission = b64(a.admission)
    await connectAll(libp2p)
    const ids = nodes.map(idOf)
    for (const id of ids) {
      const r = await ask(libp2p, id, GUEST_PROTOCOL, { admission, op: 'lookup', bucket: 'shared', key: 'public/a.bin' })
      assert.equal(r.status, 'ok', `served before: ${String(r.message)}`)
    }
    const revoked = await Promise.all(nodes.map(async n => await refused(n, 'revoked')))
    const t0 = performance.now()
    await iam({ Action: 'SetUserStatus', UserName: 'scoped', Status: 'Disabled' })
    const took: number[] = []
    for (const id of ids) {
      for (;;) {
        const r = await ask(libp2p, id, GUEST_PROTOCOL, { admission, op: 'lookup', bucket: 'shared', key: 'public/a.bin' })
        if (r.reason === 'revoked') break
        assert.ok(performance.now() - t0 < ADMISSION_SECONDS * 1000, 'refused within the admission\'s lifetime')
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      took.push(performance.now() - t0)
    }
    process.stderr.write(`guests: a disabled user's guest refused after ${took.map(t => t.toFixed(0)).join(' ms, ')} ms (nodes 0 and 1)\n`)
    const after = await Promise.all(nodes.map(async n => await refused(n, 'revoked')))
    after.forEach((v, i) => { assert.ok(v > revoked[i]!, `node ${i} counted it`) })
    // And no new admission for it.
    const res = await s3Signer(reader).fetch(`${nodes[1]!.url}/_s3mesh/v1/browser-join?peer=${peer}`)
    assert.equal(res.status, 403)
  })
})
