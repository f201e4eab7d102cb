/**
 * bench/mesh-idle: what a quiet member's catalog costs it. Three real
 * `s3mesh server` processes (the built CLI, default preset, two replicas);
 * each process's CPU time is read from /proc over 40 s with no requests
 * (longer than a quiet member's walks through its catalog are apart, so the
 * window holds some whatever their phase),
 * first with no object in the mesh (the baseline, in the same cluster: probes,
 * gossip, push-pull, anti-entropy), then again once 20,000 small objects have
 * been written (and the cluster has had 5 s to settle). The difference is
 * what keeping the catalog costs a member that serves nothing: its repair
 * loop's walks, anti-entropy's digests. Repeated (3 rounds by default, a
 * fresh cluster each); figures are the median of the rounds and their range.
 * JSON (kept in bench/results/mesh-idle.json), then a one-line summary.
 *
 *   npm run bench:mesh-idle
 *   npm run bench:mesh-idle -- --quick
 */
import { randomBytes } from 'node:crypto'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess } from '../../test/helpers/server-process.js'
import { cpuOver } from '../lib/cpu-over.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive } from '../lib/mesh-load.js'
import { median, showSpread, spread } from '../lib/stats.js'

const options = benchOptions(3)
const OBJECTS = options.quick ? 2_000 : 20_000
const IDLE_MS = options.quick ? 4_000 : 40_000
const SETTLE_MS = 5_000
const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function round (): Promise<{ empty: number[], full: number[], writeSeconds: number }> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const args = ['--replicas', '2', '--no-console']
  const nodes = [await startServerProcess({ env, args })]
  try {
    for (let i = 1; i < 3; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    await alive(nodes)
    const pids = nodes.map(n => n.child.pid!)
    const made = await sign.fetch(`${nodes[0]!.url}/idle`, { method: 'PUT' })
    if (made.status !== 200) throw new Error(`CreateBucket: ${made.status}`)
    await sleep(SETTLE_MS)
    const empty = await cpuOver(pids, IDLE_MS)
    // Small objects through every node in turn, 16 at a time: the catalog is what grows.
    const started = performance.now()
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < OBJECTS) {
        const i = next++
        const res = await sign.fetch(`${nodes[i % nodes.length]!.url}/idle/o/${i}`, { method: 'PUT', body: `object ${i}` })
        if (res.status !== 200) throw new Error(`PUT ${i}: ${res.status} ${await res.text()}`)
      }
    }))
    const writeSeconds = (performance.now() - started) / 1000
    await sleep(SETTLE_MS)
    return { empty, full: await cpuOver(pids, IDLE_MS), writeSeconds }
  } finally {
    for (const n of nodes) await n.stop()
  }
}

const rounds: Array<Awaited<ReturnType<typeof round>>> = []
for (let r = 0; r < options.runs; r++) {
  process.stderr.write(`mesh-idle: round ${r + 1} of ${options.runs}\n`)
  rounds.push(await round())
}
const result = {
  nodes: 3, objects: OBJECTS, idleMs: IDLE_MS, settleMs: SETTLE_MS,
  /** CPU ms per second of a member (the median member of a round) with no object, and with OBJECTS objects. */
  emptyMsPerS: spread(rounds.map(r => median(r.empty)), 1),
  fullMsPerS: spread(rounds.map(r => median(r.full)), 1),
  /** What the catalog adds, ms per second (the median member's, within each round). */
  catalogMsPerS: spread(rounds.map(r => median(r.full) - median(r.empty)), 1),
  rounds,
}
await keep('mesh-idle', options, result,
  `3 quiet members, CPU ms/s (median member): with ${OBJECTS.toLocaleString('en')} objects ${showSpread(result.fullMsPerS)} vs with none ${showSpread(result.emptyMsPerS)}, so the catalog costs ${showSpread(result.catalogMsPerS)} ms/s (median and range of ${options.runs} rounds)`)
process.exit(0)
