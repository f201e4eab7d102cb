/**
 * Catalog announcements over real gossipsub between three libp2p nodes in
 * this process: a member passes one on (to its mesh peers) only if a peer
 * subscribed to its topic is missing from those the publisher listed as sent
 * to, and a publisher whose gossipsub did not send it to every subscriber it
 * listed sends it again, listing none.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { gossipsub, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { createLibp2p } from 'libp2p'
import { Announcer, bucketTopic, peerMark } from '../../src/core/mesh/announcer.js'
import { decodeCatalogMessage, encodeCatalogMessage } from '../../src/core/mesh/catalog-codec.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { GOSSIPSUB_OPTIONS } from '../../src/core/mesh/config.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import { meshMuxer } from '../../src/core/wire/mesh-muxer.js'
import { gossipRouter } from '../../src/core/wire/sealed-topic.js'
import { corkedTcp } from '../../src/node/corked-tcp.js'
import { until } from '../helpers/until.js'

const CLUSTER = 'fwd'
const BUCKET = 'photos'
const TOPIC = bucketTopic(CLUSTER, BUCKET)

interface Peer {
  libp2p: Libp2p<{ identify: unknown, pubsub: GossipSub }>
  announcer: Announcer
  /** Keys of the entries delivered to this peer, in order. */
  heard: string[]
  /** What this peer told gossipsub of each message delivered to it (all on the bucket's topic). */
  reports: TopicValidatorResult[]
  /** The recipients listed by each message delivered to this peer, sorted (undefined: none listed). */
  lists: Array<string[] | undefined>
  id: string
}

async function startPeers (keyring: Keyring): Promise<Peer[]> {
  return await Promise.all([0, 1, 2].map(async () => {
    const libp2p = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [corkedTcp()], connectionEncrypters: [noise()], streamMuxers: [meshMuxer()],
      services: { identify: identify(), pubsub: gossipsub(GOSSIPSUB_OPTIONS) },
    })
    const peer: Peer = { libp2p, heard: [], reports: [], lists: [], id: libp2p.peerId.toString(), announcer: undefined as unknown as Announcer }
    // Every report goes through the router's method: recorded on the way.
    const router = gossipRouter(libp2p.services.pubsub)
    const report = router.reportMessageValidationResult.bind(router)
    router.reportMessageValidationResult = (msgId, source, acceptance) => {
      peer.reports.push(acceptance)
      report(msgId, source, acceptance)
    }
    libp2p.services.pubsub.addEventListener('gossipsub:message', ({ detail }) => {
      void keyring.open(detail.msg.data).then(plain => { peer.lists.push(decodeCatalogMessage(plain).sentTo?.sort()) })
    })
    peer.announcer = new Announcer(libp2p.services.pubsub, keyring, CLUSTER, libp2p.peerId.toString(), (_, entries) => { for (const e of entries) peer.heard.push(e.key ?? '') })
    peer.announcer.start()
    peer.announcer.listen([BUCKET])
    return peer
  }))
}

const entry = (p: Peer, key: string): CatalogEntry => ({ bucket: BUCKET, key, version: { ms: Date.now(), counter: 0, node: p.id }, deleted: true, holders: [] })

/** The peers in a peer's gossipsub mesh for the bucket's topic (a public method of gossipsub's class its interface leaves out). */
const meshPeers = (p: Peer): string[] => (p.libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }).getMeshPeers(TOPIC)

/** Connects each pair given and waits until each peer's mesh for the bucket's topic is exactly the peers it is connected to. */
async function connect (peers: Peer[], pairs: Array<[number, number]>): Promise<void> {
  for (const [a, b] of pairs) await peers[a]!.libp2p.dial(peers[b]!.libp2p.getMultiaddrs()[0]!)
  const linked = (i: number): string[] => pairs.filter(p => p.includes(i)).map(([a, b]) => peers[a === i ? b : a]!.id).sort()
  await until('every peer\'s mesh for the topic holds the peers it is connected to', () =>
    peers.every((p, i) => JSON.stringify(meshPeers(p).sort()) === JSON.stringify(linked(i))), 10_000)
}

describe('catalog announcements on a bucket\'s topic', () => {
  const started: Peer[] = []
  after(async () => { for (const p of started) { await p.announcer.stop().catch(() => {}); await p.libp2p.stop() } })

  it('among three peers all connected, an announcement reaches each once, and neither receiver forwards it', async () => {
    const keyring = await Keyring.create([Keyring.generateKey()], CLUSTER)
    const peers = await startPeers(keyring)
    started.push(...peers)
    await connect(peers, [[0, 1], [0, 2], [1, 2]])
    const [a, b, c] = peers as [Peer, Peer, Peer]
    for (let i = 0; i < 5; i++) {
      a.announcer.announce([entry(a, `k${i}`)])
      await a.announcer.flush()
    }
    await until('both others heard the five announcements', () => [b.heard, c.heard, b.lists, c.lists].every(x => x.length === 5), 5_000)
    // Had either forwarded one, the other would have received it twice: a duplicate gossipsub drops before delivery, so
    // the reports are what tell.
    assert.deepEqual([b.reports, c.reports], [Array(5).fill(TopicValidatorResult.Ignore), Array(5).fill(TopicValidatorResult.Ignore)], 'each message was delivered and not passed on')
    // The publisher lists itself: a member that heard it first through another would otherwise send it back.
    const all = [a.id, b.id, c.id].map(peerMark).sort()
    assert.deepEqual([b.lists, c.lists], [Array(5).fill(all), Array(5).fill(all)], 'each message lists its publisher and both receivers')

    // A message from a member of an earlier release lists no recipients: it is forwarded as gossipsub always has.
    const [bBefore, cBefore] = [b.reports.length, c.reports.length]
    await a.libp2p.services.pubsub.publish(TOPIC, await keyring.seal(encodeCatalogMessage([entry(a, 'old')])))
    await until('both heard the unlisted announcement', () => b.heard.includes('old') && c.heard.includes('old'), 5_000)
    assert.deepEqual([b.reports.slice(bBefore), c.reports.slice(cBefore)], [[TopicValidatorResult.Accept], [TopicValidatorResult.Accept]], 'both passed it on')
  })

  it('in a line (the publisher not connected to the third peer), the middle peer forwards it, and the third hears every announcement', async () => {
    const peers = await startPeers(await Keyring.create([Keyring.generateKey()], CLUSTER))
    started.push(...peers)
    await connect(peers, [[0, 1], [1, 2]])
    const [a, b, c] = peers as [Peer, Peer, Peer]
    assert.ok(!a.libp2p.getConnections().some(x => x.remotePeer.toString() === c.id), 'precondition: the publisher and the third peer are not connected')
    for (let i = 0; i < 5; i++) {
      a.announcer.announce([entry(a, `k${i}`)])
      await a.announcer.flush()
    }
    await until('the third peer heard the five announcements', () => c.heard.length === 5, 5_000, () => `b heard ${b.heard.length}, c ${c.heard.length}`)
    // In any order: each message is opened by an async validator, and two may finish out of order (seen on Node 22).
    assert.deepEqual([...b.heard].sort(), ['k0', 'k1', 'k2', 'k3', 'k4'])
    assert.deepEqual([...c.heard].sort(), ['k0', 'k1', 'k2', 'k3', 'k4'])
    assert.deepEqual(b.reports, Array(5).fill(TopicValidatorResult.Accept), 'the middle peer passed each on')
    assert.deepEqual(c.reports, Array(5).fill(TopicValidatorResult.Ignore), 'the third, with no peer left that lacks it, did not')
  })

  it('a subscriber listed but not sent to: the publisher sends the entries again, listing none, and the others forward that', async () => {
    const peers = await startPeers(await Keyring.create([Keyring.generateKey()], CLUSTER))
    started.push(...peers)
    await connect(peers, [[0, 1], [0, 2], [1, 2]])
    const [a, b, c] = peers as [Peer, Peer, Peer]
    // A subscriber a's gossipsub knows of and has no stream to, as a peer whose subscription came before its stream.
    const pubsub = a.libp2p.services.pubsub
    const known = pubsub.getSubscribers.bind(pubsub)
    const phantom = peerIdFromString('12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf')
    pubsub.getSubscribers = topic => topic === TOPIC ? [...known(topic), phantom] : known(topic)
    a.announcer.announce([entry(a, 'k')])
    await a.announcer.flush()
    await until('both others heard it twice', () => b.heard.length === 2 && c.heard.length === 2, 5_000, () => `b heard ${b.heard.length}, c ${c.heard.length}`)
    assert.equal(a.announcer.stats.republished, 1, 'published again once')
    // In any order (see the line test): one Ignore, one Accept each.
    const sorted = (r: TopicValidatorResult[]): TopicValidatorResult[] => [...r].sort()
    const both = sorted([TopicValidatorResult.Ignore, TopicValidatorResult.Accept])
    assert.deepEqual([sorted(b.reports), sorted(c.reports)], [both, both], 'the listed message goes no further, the unlisted one on')
  })
})
