/**
 * bench/mesh-convergence: N whole mesh members in this process (real libp2p:
 * TCP on loopback, Noise, yamux, gossipsub; memory stores). For each round a
 * member PUTs a 1 KiB object; the time from the PUT's acknowledgement (and,
 * stricter, from its start) until every member's catalog lists it, next to
 * raw gossipsub: the time from a
 * publish of a message of the same size on a topic of the same cluster until
 * every other member delivered it. p50/p99 per N. JSON, then a one-line
 * summary. Goal: p99 within 2x of raw gossipsub.
 *
 *   npm run bench:mesh-convergence             # N = 5, 10 and 20; 60 rounds each
 *   npm run bench:mesh-convergence -- 20       # N = 20 only
 *   npm run bench:mesh-convergence -- --quick
 */
import { randomBytes } from 'node:crypto'
import type { Message } from '@libp2p/gossipsub'
import { LOCAL } from '../../src/core/membership/config.js'
import { Keyring } from '../../src/core/membership/keyring.js'
import type { CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { startInProcessNode, type InProcessNode } from '../../test/helpers/in-process-mesh.js'
import { percentile, round } from '../lib/stats.js'

const quick = process.argv.includes('--quick')
const asked = process.argv.slice(2).map(Number).filter(n => n > 1)
const sizes = asked.length > 0 ? asked : quick ? [5] : [5, 10, 20]
const ROUNDS = quick ? 15 : 60
const RAW_TOPIC = '/s3mesh-bench/raw/1'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function until (check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(20)
  }
}

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

const viaCatalog = (n: InProcessNode, seen: (key: string) => void): () => void => {
  const on = (e: Event): void => { const d = (e as CustomEvent<CatalogEntry>).detail; if (d.key !== undefined) seen(d.key) }
  n.mesh.catalog.addEventListener('change', on)
  return () => { n.mesh.catalog.removeEventListener('change', on) }
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
  /** From the PUT's acknowledgement until every member lists the object (0: all did before the ack). */
  meshMs: Percentiles
  /** From the start of the PUT until every member lists it, and until it was acknowledged (two copies stored). */
  fromPutStartMs: Percentiles
  ackMs: Percentiles
  rawGossipsubMs: Percentiles
  /** The goal's measure: listed everywhere after the ack, p99, over raw gossipsub's p99. */
  p99Ratio: number
  /** The same from the start of the PUT. */
  p99RatioFromPutStart: number
}

async function measure (n: number): Promise<Row> {
  const key = Keyring.generateKey()
  const nodes: InProcessNode[] = []
  // LOCAL timing (not the tests' faster one): twenty members in one event loop must not suspect each other.
  for (let i = 0; i < n; i++) nodes.push(await startInProcessNode({ key, cluster: `conv${n}`, membership: LOCAL }))
  try {
    const seed = nodes[0]!.libp2p.getMultiaddrs()[0]!.toString()
    for (const node of nodes.slice(1)) await node.transport.join([seed])
    await until(() => nodes.every(x => x.transport.membership.list().filter(m => m.state === 'alive').length === n), 60_000)
    for (const node of nodes) node.libp2p.services.pubsub.subscribe(RAW_TOPIC)
    await nodes[0]!.mesh.store.createBucket('conv')
    await until(() => nodes.every(x => x.mesh.catalog.get('conv') !== undefined), 10_000)
    await sleep(3_000) // a few gossipsub heartbeats: both topics' meshes formed
    // About the size of a sealed announcement of one object entry.
    const payloadBytes = 400
    const mesh: number[] = []
    const fromStart: number[] = []
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
      // The mesh: PUT acknowledged, until every other member's catalog lists the object.
      const objectKey = `obj-${String(r).padStart(12, '0')}`
      const meshDone = arrivals(others, viaCatalog, objectKey, 10_000)
      const body = randomBytes(1024)
      const started = performance.now()
      await writer.mesh.store.putObject('conv', objectKey, streamOfBytes(body), { metadata: { user: {} }, size: body.byteLength })
      const acked = performance.now()
      const listed = await meshDone
      mesh.push(Math.max(0, listed - acked))
      fromStart.push(listed - started)
      ack.push(acked - started)
      await sleep(50)
    }
    const p = (xs: number[]): { p50: number, p99: number } => ({ p50: round(percentile(xs, 50), 2), p99: round(percentile(xs, 99), 2) })
    const row = { n, rounds: ROUNDS, meshMs: p(mesh), fromPutStartMs: p(fromStart), ackMs: p(ack), rawGossipsubMs: p(raw), p99Ratio: 0, p99RatioFromPutStart: 0 }
    // Compared from the start of the PUT: the stricter reading (the ack itself waits for a replica).
    row.p99Ratio = round(row.meshMs.p99 / row.rawGossipsubMs.p99, 2)
    row.p99RatioFromPutStart = round(row.fromPutStartMs.p99 / row.rawGossipsubMs.p99, 2)
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
process.stdout.write(JSON.stringify({ bench: 'mesh-convergence', date: new Date().toISOString(), node: process.version, rows }, null, 2) + '\n')
process.stdout.write('mesh-convergence: ' + rows.map(r => `N=${r.n} listed everywhere p99 ${r.meshMs.p99} ms after the ack (${r.fromPutStartMs.p99} ms after the PUT began; ack p99 ${r.ackMs.p99} ms); raw gossipsub p99 ${r.rawGossipsubMs.p99} ms (${r.p99Ratio}x after the ack, ${r.p99RatioFromPutStart}x from the PUT's start)`).join('; ') + ' — goal: p99 within 2x of raw gossipsub\n')
process.exit(0)
