/**
 * bench/mesh-put-latency: what replication adds to one PUT's latency in a
 * quiet cluster. Signed PUTs one after another (each answered before the
 * next starts), of 1 KiB and 1 MiB, against one `s3mesh server` and against
 * three real processes with two replicas (each PUT waits for its second
 * copy), written through each node in turn; in each of three rounds, the
 * one node first. p50/p90/p99 of the time from the request until its
 * answer, and the p50 the cluster adds over one node in the same round
 * (bench:mesh-s3 measures the same under a load of 8 at a time). Where
 * the time goes, from each answer's Server-Timing (p50s): the local copy
 * (`write`: its body read, written and committed), then until the replica
 * has committed its copy (`copies`), the announcement (`announce`), and
 * the rest (`outside`: the request's way in and the answer's way out, its
 * signature and the store's checks before the write, the client). JSON (kept in
 * bench/results/mesh-put-latency.json), then a one-line summary.
 *
 *   npm run bench:mesh-put-latency
 *   npm run bench:mesh-put-latency -- --quick
 */
import { randomBytes } from 'node:crypto'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive } from '../lib/mesh-load.js'
import { percentile, round, spread, type Spread } from '../lib/stats.js'

const options = benchOptions(3)
const PUTS = options.quick ? 40 : 200
const WARM_UP = 20
const cases = [{ name: '1KiB', size: 1024 }, { name: '1MiB', size: 1024 * 1024 }]
const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })

/** p50s of a PUT's parts, ms (see the top of this file). */
interface Phases { write: number, copies: number, announce: number, outside: number }
interface Latency { p50: number, p90: number, p99: number, phases: Phases }

/** The durations in a Server-Timing header, by name. */
function serverTiming (header: string | null): Map<string, number> {
  const out = new Map<string, number>()
  for (const metric of (header ?? '').split(',')) {
    const [name, ...params] = metric.split(';').map(x => x.trim())
    const dur = params.find(x => x.startsWith('dur='))
    if (name !== undefined && name !== '' && dur !== undefined) out.set(name, Number(dur.slice(4)))
  }
  return out
}

/** PUTs one at a time through each node in turn: the latency of each, after a warm-up. */
async function puts (nodes: ServerProcess[], size: number, prefix: string): Promise<Latency> {
  const ms: number[] = []
  const parts: Record<keyof Phases, number[]> = { write: [], copies: [], announce: [], outside: [] }
  const body = randomBytes(size)
  for (let i = 0; i < WARM_UP + PUTS; i++) {
    const node = nodes[i % nodes.length]!
    const t0 = performance.now()
    const res = await sign.fetch(`${node.url}/lat/${prefix}-${i}`, { method: 'PUT', body })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`PUT answered ${res.status}`)
    const took = performance.now() - t0
    const timing = serverTiming(res.headers.get('server-timing'))
    const [write, copies, announce] = ['write', 'copies', 'announce'].map(name => timing.get(name))
    if (write === undefined || copies === undefined || announce === undefined) throw new Error(`the PUT answered no Server-Timing of its parts: ${res.headers.get('server-timing')}`)
    if (i >= WARM_UP) {
      ms.push(took)
      parts.write.push(write); parts.copies.push(copies); parts.announce.push(announce)
      parts.outside.push(took - write - copies - announce)
    }
    // Quiet between writes: what is measured is one PUT's path, not a queue.
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  const p50 = (xs: number[]): number => round(percentile(xs, 50), 2)
  return { p50: p50(ms), p90: round(percentile(ms, 90), 2), p99: round(percentile(ms, 99), 2), phases: { write: p50(parts.write), copies: p50(parts.copies), announce: p50(parts.announce), outside: p50(parts.outside) } }
}

async function cluster (n: number): Promise<ServerProcess[]> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const args = ['--replicas', '2', '--no-console']
  const nodes = [await startServerProcess({ env, args })]
  for (let i = 1; i < n; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
  try {
    await alive(nodes)
    if ((await sign.fetch(`${nodes[0]!.url}/lat`, { method: 'PUT' })).status !== 200) throw new Error('could not create the bucket')
    // Every node knows the bucket before it is written through.
    await new Promise(resolve => setTimeout(resolve, 1000))
    return nodes
  } catch (err) {
    await Promise.all(nodes.map(async node => await node.stop()))
    throw err
  }
}

async function measure (n: number): Promise<Record<string, Latency>> {
  const nodes = await cluster(n)
  try {
    const out: Record<string, Latency> = {}
    for (const c of cases) out[c.name] = await puts(nodes, c.size, c.name)
    return out
  } finally {
    await Promise.all(nodes.map(async node => await node.stop()))
  }
}

const rounds: Array<{ one: Record<string, Latency>, three: Record<string, Latency> }> = []
for (let r = 0; r < options.runs; r++) {
  process.stderr.write(`mesh-put-latency: round ${r + 1} of ${options.runs}: one node\n`)
  const one = await measure(1)
  process.stderr.write(`mesh-put-latency: round ${r + 1} of ${options.runs}: three nodes, two replicas\n`)
  rounds.push({ one, three: await measure(3) })
}

const of = (pick: (r: typeof rounds[number]) => number): Spread => spread(rounds.map(pick))
const phasesOf = (pick: (r: typeof rounds[number]) => Phases): Record<keyof Phases, Spread> =>
  ({ write: of(r => pick(r).write), copies: of(r => pick(r).copies), announce: of(r => pick(r).announce), outside: of(r => pick(r).outside) })
const showPhases = (p: Record<keyof Phases, Spread>): string => `write ${p.write.median}, copies ${p.copies.median}, announce ${p.announce.median}, outside ${p.outside.median}`
const figures = Object.fromEntries(cases.map(c => [c.name, {
  oneNode: { p50: of(r => r.one[c.name]!.p50), p90: of(r => r.one[c.name]!.p90), p99: of(r => r.one[c.name]!.p99) },
  threeNodes: { p50: of(r => r.three[c.name]!.p50), p90: of(r => r.three[c.name]!.p90), p99: of(r => r.three[c.name]!.p99) },
  /** The p50 three nodes add over one, within a round (ms). */
  addedP50: of(r => r.three[c.name]!.p50 - r.one[c.name]!.p50),
  /** p50s of each part of a PUT (ms; see the top of this file). */
  oneNodePhases: phasesOf(r => r.one[c.name]!.phases),
  threeNodesPhases: phasesOf(r => r.three[c.name]!.phases),
}]))

await keep('mesh-put-latency', options, { puts: PUTS, cases, figures, rounds },
  `PUT one at a time, p50 ms, median of ${options.runs} rounds: ` +
  cases.map(c => `${c.name} one node ${figures[c.name]!.oneNode.p50.median} (${showPhases(figures[c.name]!.oneNodePhases)}), three nodes (R=2) ${figures[c.name]!.threeNodes.p50.median} (+${figures[c.name]!.addedP50.median}; ${showPhases(figures[c.name]!.threeNodesPhases)})`).join('; '))
process.exit(0)
