/**
 * bench/mesh-convergence: N whole mesh members in this process (real libp2p:
 * TCP on loopback, Noise, yamux, gossipsub; memory stores). For each round a
 * member PUTs a 1 KiB object: the time from the start of the PUT until every
 * other member's catalog lists it, next to raw gossipsub's time from the
 * publish call of a message of the same size, on a topic of the same
 * members, until every other member delivered it. (Measured from the start:
 * a write is announced before its replica is made, so "after the
 * acknowledgement" is 0 by construction and says nothing.) p50/p99 per N and
 * their ratios. JSON (kept in bench/results/mesh-convergence.json), then a
 * one-line summary. Goal: p99 within 2x of raw gossipsub.
 *
 *   npm run bench:mesh-convergence             # N = 5, 10 and 20; 60 rounds each
 *   npm run bench:mesh-convergence -- 20       # N = 20 only (printed, not kept)
 *   npm run bench:mesh-convergence -- --quick
 */
import { randomBytes } from 'node:crypto'
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub'
import { gossipRouter } from '../../src/core/wire/sealed-topic.js'
import { LOCAL } from '../../src/core/membership/config.js'
import { Keyring } from '../../src/core/wire/keyring.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { startInProcessNode, type InProcessNode } from '../../test/helpers/in-process-mesh.js'
import { benchArgs, benchOptions, keep } from '../lib/keep.js'
import { percentile, round } from '../lib/stats.js'
import { until } from '../../test/helpers/until.js'

const options = benchOptions(1)
const quick = options.quick
const asked = benchArgs().map(Number).filter(n => n > 1)
// Only the full set of sizes is kept.
if (asked.length > 0) options.save = false
const sizes = asked.length > 0 ? asked : quick ? [5] : [5, 10, 20]
const ROUNDS = quick ? 15 : 60
const RAW_TOPIC = '/s3mesh-bench/raw/1'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** When every node in `others` has fired `arrived(key)`, resolves with the latest time. */
function arrivals (others: InProcessNode[], listen: (n: InProcessNode, seen: (key: string) => void) => () => void, key: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const pending = new Set(others)
    let last = 0
    const offs: Array<() => void> = []
    const timer = setTimeout(() => { for (const off of offs) off(); reject(new Error(`${pending.size} members never saw ${key}`)) }, timeoutMs)
    for (const n of others) {
      offs.push(listen(n, k => {
        if (k !== key || !pending.has(n)) return
        pending.delete(n)
        last = performance.now()
        if (pending.size === 0) { clearTimeout(timer); for (const off of offs) off(); resolve(last) }
      }))
    }
  })
}

/** A member lists an object once its catalog has it, or (a member that does not keep the bucket's entries) once it heard of it, as a blocking locate answers. */
const viaCatalog = (n: InProcessNode, seen: (key: string) => void): () => void => {
  const on = (e: CustomEvent<CatalogEntry>): void => { if (e.detail.key !== undefined) seen(e.detail.key) }
  n.mesh.catalog.addEventListener('change', on)
  n.mesh.heard.addEventListener('passed', on)
  return () => { n.mesh.catalog.removeEventListener('change', on); n.mesh.heard.removeEventListener('passed', on) }
}

const viaRaw = (n: InProcessNode, seen: (key: string) => void): () => void => {
  const on = (e: CustomEvent<Message>): void => { if (e.detail.topic === RAW_TOPIC) seen(new TextDecoder().decode(e.detail.data.subarray(0, 16))) }
  n.libp2p.services.pubsub.addEventListener('message', on)
  return () => { n.libp2p.services.pubsub.removeEventListener('message', on) }
}

interface Percentiles { p50: number, p99: number }
interface Row {
  n: number
  rounds: number
  /** From the start of the PUT until every other member lists the object. */
  listedMs: Percentiles
  /** From the start of the PUT until it was acknowledged (two copies stored). */
  ackMs: Percentiles
  /** From the publish call until every other member delivered the message. */
  rawGossipsubMs: Percentiles
  /** The goal's measure: listed, p99, over raw gossipsub's p99 (and the same at p50). */
  p99Ratio: number
  p50Ratio: number
}

async function measure (n: number): Promise<Row> {
  const key = Keyring.generateKey()
  const nodes: InProcessNode[] = []
  // LOCAL timing (not the tests' faster one): twenty members in one event loop must not suspect each other.
  for (let i = 0; i < n; i++) nodes.push(await startInProcessNode({ key, cluster: `conv${n}`, membership: LOCAL }))
  try {
    const seed = nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const node of nodes.slice(1)) await node.transport.join([seed])
    await until(`all ${n} members alive everywhere`, () => nodes.every(x => x.transport.membership.list().filter(m => m.state === 'alive').length === n), 60_000)
    for (const node of nodes) {
      const pubsub = node.libp2p.services.pubsub
      const router = gossipRouter(pubsub)
      // Members' gossipsub forwards a message once told to (asyncValidation, see GOSSIPSUB_OPTIONS): a raw message always.
      pubsub.addEventListener('gossipsub:message', ({ detail }) => {
        if (detail.msg.topic === RAW_TOPIC) router.reportMessageValidationResult(detail.msgId, detail.propagationSource.toString(), TopicValidatorResult.Accept)
      })
      pubsub.subscribe(RAW_TOPIC)
    }
    await nodes[0]!.mesh.store.createBucket('conv')
    await until('every member knows the bucket', () => nodes.every(x => x.mesh.catalog.get('conv') !== undefined), 10_000)
    // Every member hears of the bucket's writes, as one with a blocking locate waiting does (bench:mesh-convergence-processes).
    for (const node of nodes) if (!node.mesh.partition.answers('conv')) node.mesh.follow('conv')
    await sleep(3_000) // a few gossipsub heartbeats: both topics' meshes formed
    // About the size of a sealed announcement of one object entry.
    const payloadBytes = 400
    const listedAt: number[] = []
    const ack: number[] = []
    const raw: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const writer = nodes[r % n]!
      const others = nodes.filter(x => x !== writer)
      // Raw gossipsub: publish, until every other member delivered it.
      const id = `raw-${String(r).padStart(12, '0')}`
      const rawDone = arrivals(others, viaRaw, id, 10_000)
      const t0 = performance.now()
      const payload = new Uint8Array(payloadBytes)
      payload.set(new TextEncoder().encode(id))
      await writer.libp2p.services.pubsub.publish(RAW_TOPIC, payload)
      raw.push(await rawDone - t0)
      // The mesh: from the start of the PUT until every other member's catalog lists the object.
      const objectKey = `obj-${String(r).padStart(12, '0')}`
      const meshDone = arrivals(others, viaCatalog, objectKey, 10_000)
      const body = randomBytes(1024)
      const started = performance.now()
      await writer.mesh.store.putObject('conv', objectKey, streamOfBytes(body), { metadata: { user: {} }, size: body.byteLength })
      const acked = performance.now()
      const listed = await meshDone
      listedAt.push(listed - started)
      ack.push(acked - started)
      await sleep(50)
    }
    const p = (xs: number[]): { p50: number, p99: number } => ({ p50: round(percentile(xs, 50), 2), p99: round(percentile(xs, 99), 2) })
    const row: Row = { n, rounds: ROUNDS, listedMs: p(listedAt), ackMs: p(ack), rawGossipsubMs: p(raw), p99Ratio: 0, p50Ratio: 0 }
    row.p99Ratio = round(percentile(listedAt, 99) / percentile(raw, 99), 2)
    row.p50Ratio = round(percentile(listedAt, 50) / percentile(raw, 50), 2)
    return row
  } finally {
    for (const node of nodes) await node.stop()
  }
}

const rows: Row[] = []
for (const n of sizes) {
  process.stderr.write(`mesh-convergence: N=${n}\n`)
  rows.push(await measure(n))
}
await keep('mesh-convergence', options, { objectBytes: 1024, rawMessageBytes: 400, rows: Object.fromEntries(rows.map(r => [`n${r.n}`, r])) },
  rows.map(r => `N=${r.n} listed everywhere p99 ${r.listedMs.p99} ms from the PUT's start (ack p99 ${r.ackMs.p99} ms); raw gossipsub p99 ${r.rawGossipsubMs.p99} ms: ${r.p99Ratio}x`).join('; ') + ' - goal: p99 within 2x of raw gossipsub')
process.exit(0)
