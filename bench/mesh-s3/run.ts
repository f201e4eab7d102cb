/**
 * bench/mesh-s3: the S3 load of bench/s3-http (AWS SDK v3, default settings,
 * 8 at a time) against one node and against a three-node cluster with two
 * replicas, in the same run on this machine, reported as ratios to one node.
 * On the cluster, PUTs and GETs go to node 1 (each PUT waits for its second
 * copy), then the same objects are read through node 2, which holds about
 * half of them (node 1 keeps every copy it writes, the other goes to node 2
 * or 3) and reads the rest through from a holder (checked, not kept:
 * placement does not give node 2 those). The copies each object has, counted
 * in the three data folders once a case is done, and node 2's share of them. Then the objects node 2 lacks
 * alone, twice each: through node 2 (a GET through a node that is not a
 * holder) against the same GETs at node 1, which holds them (the issue's
 * "GET through a non-holder against a GET at a holder").
 * In each round's cluster, 1 MiB ranges of a 256 MiB object through a node
 * that holds no copy against the same ranges at a holder (range.ts).
 * Around each load, the CPU time of every process (each node, and this one,
 * the SDK's) per operation: the 2 cores are busy, so one load's CPU per
 * operation over another's is the ratio the CPU allows them, printed beside
 * the measured one (what the code spends, apart from what it waits for).
 * Repeated (3 rounds by default, one node then the cluster in each); figures
 * are the median of the rounds and their range, ratios taken within a round.
 * JSON (kept in bench/results/mesh-s3.json), then a one-line summary that
 * ends with the data path's other ratios as their own benchmarks last kept
 * them (glance.ts), so the whole issue reads at a glance.
 *
 *   npm run bench:mesh-s3
 *   npm run bench:mesh-s3 -- --runs 5
 *   npm run bench:mesh-s3 -- --quick
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive } from '../lib/mesh-load.js'
import { showSpread, spread, type Spread } from '../lib/stats.js'
import { client, ensureBucket, sdkGet, sdkGetKeys, sdkKey, type LoadResult } from '../s3-http/sdk-load.js'
import { measuredPutGet, withClusterCpu, type Measured } from './cluster-cpu.js'
import type { Target } from '../s3-http/targets.js'
import { glance } from './glance.js'
import { rangeReads, type RangeReads } from './range.js'

const options = benchOptions(3)
const quick = options.quick
const CONCURRENCY = 8
const cases = [
  { name: '64KiB', size: 64 * 1024, count: quick ? 200 : 1000 },
  { name: '1MiB', size: 1024 * 1024, count: quick ? 40 : 200 },
]

const target = (name: string, n: ServerProcess): Target => ({ name, url: n.url, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, pid: n.child.pid!, stop: async () => { await n.stop() } })

interface CaseResult {
  put: Measured
  get: Measured
  getElsewhere?: Measured
  /** Only the objects node 2 holds no copy of, read through node 2 (`keys` of them, twice each). */
  getNonHolder?: Measured & { keys: number }
  /** The same GETs at node 1, which holds them. */
  getHolderSame?: Measured
  /** Files of the case's objects in the cluster's data folders, per object (--replicas 2: 2 is none beyond them). */
  copiesPerObject?: number
  /** The share of the case's objects node 2 holds. */
  heldByNode2?: number
}

/** A node of the cluster read through, where it keeps its copies (to tell which objects it lacks), and every node's data folder. */
interface Elsewhere { target: Target, dataDir: string, dataDirs: string[] }

async function run (put: Target, pids: number[], elsewhere?: Elsewhere): Promise<Record<string, CaseResult>> {
  const s3 = client(put)
  const measure = async (load: () => Promise<LoadResult>): Promise<Measured> => await withClusterCpu(pids, load)
  await ensureBucket(s3, 'bench')
  // Another node must know the bucket before it is read through it.
  await new Promise(resolve => setTimeout(resolve, 500))
  const out: Record<string, CaseResult> = {}
  for (const c of cases) {
    const { put: p, get } = await measuredPutGet(s3, 'bench', c.size, c.count, CONCURRENCY, pids)
    out[c.name] = { put: p, get }
    if (elsewhere !== undefined) {
      const other = client(elsewhere.target)
      out[c.name]!.getElsewhere = await measure(async () => await sdkGet(other, 'bench', c.size, c.count, CONCURRENCY))
      const lacking = Array.from({ length: c.count }, (_, i) => sdkKey(c.size, i)).filter(k => !existsSync(join(elsewhere.dataDir, 'bench', k)))
      const twice = [...lacking, ...lacking]
      out[c.name]!.getNonHolder = { ...await measure(async () => await sdkGetKeys(other, 'bench', twice, c.size, CONCURRENCY)), keys: lacking.length }
      out[c.name]!.getHolderSame = await measure(async () => await sdkGetKeys(s3, 'bench', twice, c.size, CONCURRENCY))
      other.destroy()
      const keys = Array.from({ length: c.count }, (_, i) => sdkKey(c.size, i))
      const files = elsewhere.dataDirs.reduce((sum, dir) => sum + keys.filter(k => existsSync(join(dir, 'bench', k))).length, 0)
      out[c.name]!.copiesPerObject = files / c.count
      out[c.name]!.heldByNode2 = (c.count - lacking.length) / c.count
    }
  }
  s3.destroy()
  return out
}

type Result = Record<string, CaseResult>

async function oneNode (): Promise<Result> {
  const single = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') } })
  try { return await run(target('one node', single), [single.child.pid!]) } finally { await single.stop() }
}

async function threeNodes (): Promise<{ three: Result, range: RangeReads }> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const nodes = [await startServerProcess({ env, args: ['--replicas', '2'] })]
  try {
    for (let i = 0; i < 2; i++) nodes.push(await startServerProcess({ env, args: ['--replicas', '2', '--join', nodes[0]!.meshAddress!] }))
    await alive(nodes)
    const three = await run(target('node 1 of 3', nodes[0]!), nodes.map(n => n.child.pid!), { target: target('node 2 of 3', nodes[1]!), dataDir: nodes[1]!.dataDir, dataDirs: nodes.map(n => n.dataDir) })
    return { three, range: await rangeReads(nodes, target, quick) }
  } finally {
    for (const n of nodes) await n.stop()
  }
}

const rounds: Array<{ one: Result, three: Result, range: RangeReads }> = []
for (let r = 0; r < options.runs; r++) {
  process.stderr.write(`mesh-s3: round ${r + 1} of ${options.runs}: one node\n`)
  const one = await oneNode()
  process.stderr.write(`mesh-s3: round ${r + 1} of ${options.runs}: three nodes, two replicas\n`)
  rounds.push({ one, ...await threeNodes() })
}

interface Summary { opsPerSec: Spread, p50ms: Spread, p99ms: Spread }
/** All the CPU one operation took, every server's and the SDK's (ms). */
const allCpu = (m: Measured): number => m.cpu.serversTotal + m.cpu.client
const summary = (f: (r: { one: Result, three: Result }) => LoadResult): Summary => ({
  opsPerSec: spread(rounds.map(r => f(r).opsPerSec), 1), p50ms: spread(rounds.map(r => f(r).p50ms)), p99ms: spread(rounds.map(r => f(r).p99ms)),
})
const oneNodeSummary = Object.fromEntries(cases.map(c => [c.name, { put: summary(r => r.one[c.name]!.put), get: summary(r => r.one[c.name]!.get) }]))
const threeNodesSummary = Object.fromEntries(cases.map(c => [c.name, {
  put: summary(r => r.three[c.name]!.put), get: summary(r => r.three[c.name]!.get), getElsewhere: summary(r => r.three[c.name]!.getElsewhere!),
  getNonHolder: summary(r => r.three[c.name]!.getNonHolder!), getHolderSame: summary(r => r.three[c.name]!.getHolderSame!),
  copiesPerObject: spread(rounds.map(r => r.three[c.name]!.copiesPerObject!), 2), heldByNode2: spread(rounds.map(r => r.three[c.name]!.heldByNode2!), 2),
}]))
// Within each round: the cluster's ops/s over one node's.
const ratios = Object.fromEntries(cases.map(c => [c.name, {
  put: spread(rounds.map(r => r.three[c.name]!.put.opsPerSec / r.one[c.name]!.put.opsPerSec)),
  get: spread(rounds.map(r => r.three[c.name]!.get.opsPerSec / r.one[c.name]!.get.opsPerSec)),
  getElsewhere: spread(rounds.map(r => r.three[c.name]!.getElsewhere!.opsPerSec / r.one[c.name]!.get.opsPerSec)),
  /** A GET through a node that holds no copy over the same GET at a holder (the goal: 0.8x). */
  getNonHolder: spread(rounds.map(r => r.three[c.name]!.getNonHolder!.opsPerSec / r.three[c.name]!.getHolderSame!.opsPerSec)),
  /** The replicated PUT's p50 minus one node's (ms). */
  putP50AddedMs: spread(rounds.map(r => r.three[c.name]!.put.p50ms - r.one[c.name]!.put.p50ms)),
  /** The PUT ratio the CPU allows: one node's CPU per PUT (server and SDK) over the cluster's (three servers and SDK). */
  putCpuBound: spread(rounds.map(r => allCpu(r.one[c.name]!.put) / allCpu(r.three[c.name]!.put))),
  /** The same for a GET through a non-holder against one at a holder. */
  getNonHolderCpuBound: spread(rounds.map(r => allCpu(r.three[c.name]!.getHolderSame!) / allCpu(r.three[c.name]!.getNonHolder!))),
}]))

/**
 * Where the CPU went, ms per operation (median of the rounds): every server's and the SDK's.
 * The 2 cores are busy during each load, so these explain the ratios above (see withClusterCpu).
 */
const cpuOf = (f: (r: { one: Result, three: Result }) => Measured): { servers: Spread[], serversTotal: Spread, client: Spread } => ({
  servers: f(rounds[0]!).cpu.servers.map((_, i) => spread(rounds.map(r => f(r).cpu.servers[i]!), 3)),
  serversTotal: spread(rounds.map(r => f(r).cpu.serversTotal), 3),
  client: spread(rounds.map(r => f(r).cpu.client), 3),
})
const cpu = Object.fromEntries(cases.map(c => [c.name, {
  onePut: cpuOf(r => r.one[c.name]!.put),
  threePut: cpuOf(r => r.three[c.name]!.put),
  getAtHolder: cpuOf(r => r.three[c.name]!.getHolderSame!),
  getNonHolder: cpuOf(r => r.three[c.name]!.getNonHolder!),
}]))

// A 1 MiB range of a 256 MiB object through a node that holds none over the same range at a holder.
const range = {
  ratio: spread(rounds.map(r => r.range.nonHolder.opsPerSec / r.range.holder.opsPerSec)),
  nonHolderP50ms: spread(rounds.map(r => r.range.nonHolder.p50ms)),
  holderP50ms: spread(rounds.map(r => r.range.holder.p50ms)),
  firstMs: spread(rounds.map(r => r.range.firstMs), 1),
  receivedPerReadMiB: spread(rounds.map(r => r.range.receivedPerRead / (1024 * 1024))),
}
const elsewhere = await glance()

await keep('mesh-s3', options, { concurrency: CONCURRENCY, cases, oneNode: oneNodeSummary, threeNodes: threeNodesSummary, ratios, cpu, range, elsewhere: elsewhere.figures, rounds },
  `3 nodes (R=2) vs 1 node, SDK ops/s, median (range) of ${options.runs} rounds: ` + cases.map(c => {
    const r = ratios[c.name]!
    const u = cpu[c.name]!
    const ms = (x: { serversTotal: Spread, client: Spread }): string => `${(x.serversTotal.median + x.client.median).toFixed(2)} ms`
    return `${c.name} PUT ${showSpread(threeNodesSummary[c.name]!.put.opsPerSec)} vs ${showSpread(oneNodeSummary[c.name]!.put.opsPerSec)} (${showSpread(r.put, 'x')}, goal 0.5x; CPU per PUT ${ms(u.threePut)} vs ${ms(u.onePut)}: the CPU allows ${showSpread(r.putCpuBound, 'x')}), ${showSpread(threeNodesSummary[c.name]!.copiesPerObject)} copies per object, GET ${showSpread(r.get, 'x')}, GET through another node ${showSpread(r.getElsewhere, 'x')} (it holds ${showSpread(threeNodesSummary[c.name]!.heldByNode2)}), through a non-holder vs at a holder ${showSpread(r.getNonHolder, 'x')} (goal 0.8x; CPU per GET ${ms(u.getNonHolder)} vs ${ms(u.getAtHolder)}: the CPU allows ${showSpread(r.getNonHolderCpuBound, 'x')})`
  }).join('; ') +
  `; 1 MiB range of ${rounds[0]!.range.objectBytes / (1024 * 1024)} MiB through a non-holder vs at a holder ${showSpread(range.ratio, 'x')} (goal 0.8x), ${showSpread(range.receivedPerReadMiB)} MiB carried per range` +
  `; as kept elsewhere: ${elsewhere.line}`)
process.exit(0)
