/**
 * bench/mesh-repair: how long an object stays at one copy after a member
 * dies. Three real `s3mesh server` processes, two replicas; objects written
 * through node 1 (so node 1 holds each, and node 2 or node 3 the other
 * copy); node 3 is killed (SIGKILL, as a crash or a lost machine). Measured
 * from the kill: when node 2 declares node 3 dead (SWIM's suspicion; node 2
 * cannot start before; "failed", in memberlist's words), and when node 2 has fetched every object node 3
 * held (its repaired counter), each in its own cluster for 1 KiB and 1 MiB
 * objects. The baseline, in the same round: a client copying the same
 * objects (S3 GET from node 1, S3 PUT to a one-node server, as many at once
 * as the repair loop runs fetches; each object is read whole, then signed
 * and sent). After each repair every object is
 * checked: two live holders, as node 1 lists them. JSON (kept in
 * bench/results/mesh-repair.json), then a one-line summary.
 *
 *   npm run bench:mesh-repair
 *   npm run bench:mesh-repair -- --quick
 */
import { randomBytes } from 'node:crypto'
import { MESH_DEFAULTS } from '../../src/core/mesh/config.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, metricSum, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { until } from '../../test/helpers/until.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive, timed } from '../lib/mesh-load.js'
import { round, spread, type Spread } from '../lib/stats.js'

const options = benchOptions(3)
const cases = [
  { name: '1KiB', size: 1024, objects: options.quick ? 100 : 600 },
  { name: '1MiB', size: 1024 * 1024, objects: options.quick ? 20 : 100 },
]
/** Client requests at once: the writes, and the baseline's copies (as many as the repair loop's fetches). */
const WRITERS = 8
const COPIERS = MESH_DEFAULTS.repairConcurrency
/** PUTs into the baseline's server before its copy is timed. */
const WARM_UP = 20
/** How often the clocks below look, ms (a /metrics or members request to node 2 each time). */
const POLL_MS = 20
const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })

interface Round {
  /** Objects node 3 held (node 2 must fetch them). */
  lost: number
  /** From the kill until node 2 lists node 3 dead, and until node 2 has fetched every lost object, ms. */
  deadMs: number
  repairedMs: number
  /** The repair alone: from node 3's death until the last fetch, ms. */
  repairMs: number
  /** The baseline: a client copying the same objects, ms. */
  clientCopyMs: number
}

async function ok (res: Response, what: string): Promise<Response> {
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${await res.text()}`)
  return res
}

async function selfId (node: ServerProcess): Promise<string> {
  const { members } = await (await ok(await sign.fetch(`${node.url}/_s3mesh/v1/members`), 'members')).json() as { members: Array<{ id: string, self?: boolean, state: string }> }
  return members.find(m => m.self === true)!.id
}

async function holders (node: ServerProcess, key: string): Promise<Array<{ id: string, state: string }>> {
  return ((await (await ok(await sign.fetch(`${node.url}/_s3mesh/v1/locate/rep/${key}`), 'locate')).json()) as { holders: Array<{ id: string, state: string }> }).holders
}

async function measure (c: typeof cases[number]): Promise<Round> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const args = ['--replicas', '2', '--no-console']
  const nodes = [await startServerProcess({ env, args })]
  const spare: ServerProcess[] = []
  try {
    for (let i = 1; i < 3; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
    await alive(nodes)
    const [one, two, three] = nodes as [ServerProcess, ServerProcess, ServerProcess]
    const [idTwo, idThree] = [await selfId(two), await selfId(three)]
    await ok(await sign.fetch(`${one.url}/rep`, { method: 'PUT' }), 'create bucket')
    await new Promise(resolve => setTimeout(resolve, 1000))
    const body = randomBytes(c.size)
    await timed(c.objects, WRITERS, c.size, async i => { await ok(await sign.fetch(`${one.url}/rep/k${i}`, { method: 'PUT', body }), 'PUT') })
    // The writes settle (their announcements, the replicas' catalogs); then which copies node 3 holds.
    await new Promise(resolve => setTimeout(resolve, 3000))
    const lost: string[] = []
    await timed(c.objects, WRITERS, 0, async i => {
      const ids = (await holders(one, `k${i}`)).map(h => h.id)
      if (ids.length !== 2) throw new Error(`k${i} has ${ids.length} holders before the kill`)
      if (ids.includes(idThree)) lost.push(`k${i}`)
    })
    if (lost.length === 0 || lost.length === c.objects) throw new Error(`node 3 holds ${lost.length} of ${c.objects} objects: placement should give it about half`)

    // The baseline: a client copies what node 3 holds, from node 1 to a server of its own.
    const target = await startServerProcess({ args: ['--no-console'] })
    spare.push(target)
    await ok(await sign.fetch(`${target.url}/copy`, { method: 'PUT' }), 'create bucket')
    // Warmed first, as the cluster's nodes are by the writes: a server's first requests run before its code is compiled.
    await timed(WARM_UP, COPIERS, c.size, async i => { await ok(await sign.fetch(`${target.url}/copy/warm-${i}`, { method: 'PUT', body }), 'PUT') })
    const copyStart = performance.now()
    await timed(lost.length, COPIERS, c.size, async i => {
      const bytes = await (await ok(await sign.fetch(`${one.url}/rep/${lost[i]!}`), 'GET')).arrayBuffer()
      await ok(await sign.fetch(`${target.url}/copy/${lost[i]!}`, { method: 'PUT', body: bytes }), 'PUT')
    })
    const clientCopyMs = performance.now() - copyStart
    await target.stop()
    spare.length = 0

    const repairedBefore = await metricSum(two, 's3mesh_repaired_objects_total')
    const killed = performance.now()
    await three.stop({ signal: 'SIGKILL' })
    let deadMs = 0
    await until('node 2 to list node 3 dead', async () => {
      const { members } = await (await sign.fetch(`${two.url}/_s3mesh/v1/members`)).json() as { members: Array<{ id: string, state: string }> }
      const state = members.find(m => m.id === idThree)?.state
      if (state !== undefined && state !== 'failed' && state !== 'left') return false
      deadMs = performance.now() - killed
      return true
    }, 60_000, undefined, POLL_MS)
    let repairedMs = 0
    await until('node 2 to fetch what node 3 held', async () => {
      if (await metricSum(two, 's3mesh_repaired_objects_total') - repairedBefore < lost.length) return false
      repairedMs = performance.now() - killed
      return true
    }, 120_000, undefined, POLL_MS)
    // Every object has its two live copies again, as node 1 lists them (node 2 announced what it fetched).
    await until('node 1 to list two live holders of every object', async () => {
      for (const key of lost) {
        const h = await holders(one, key)
        if (h.filter(x => x.state === 'alive').length !== 2 || !h.some(x => x.id === idTwo)) return false
      }
      return true
    }, 30_000, undefined, POLL_MS)
    return { lost: lost.length, deadMs: round(deadMs, 0), repairedMs: round(repairedMs, 0), repairMs: round(repairedMs - deadMs, 0), clientCopyMs: round(clientCopyMs, 0) }
  } finally {
    await Promise.all([...nodes, ...spare].map(async node => await node.stop()))
  }
}

const rounds: Array<Record<string, Round>> = []
for (let r = 0; r < options.runs; r++) {
  const round: Record<string, Round> = {}
  for (const c of cases) {
    process.stderr.write(`mesh-repair: round ${r + 1} of ${options.runs}: ${c.objects} objects of ${c.name}\n`)
    round[c.name] = await measure(c)
  }
  rounds.push(round)
}

const of = (name: string, pick: (r: Round) => number): Spread => spread(rounds.map(r => pick(r[name]!)))
const figures = Object.fromEntries(cases.map(c => [c.name, {
  lost: of(c.name, r => r.lost),
  deadMs: of(c.name, r => r.deadMs),
  repairedMs: of(c.name, r => r.repairedMs),
  repairMs: of(c.name, r => r.repairMs),
  clientCopyMs: of(c.name, r => r.clientCopyMs),
  /** The repair's time over the client's copy of the same objects, within a round. */
  repairOverCopy: of(c.name, r => r.repairMs / r.clientCopyMs),
}]))

await keep('mesh-repair', options, { writers: WRITERS, copiers: COPIERS, repairConcurrency: MESH_DEFAULTS.repairConcurrency, cases, figures, rounds },
  `after a member's death, median of ${options.runs} rounds: ` +
  cases.map(c => { const f = figures[c.name]!; return `${f.lost.median} of ${c.objects} ${c.name} objects at one copy for ${f.repairedMs.median} ms (death known at ${f.deadMs.median} ms, repair ${f.repairMs.median} ms = ${f.repairOverCopy.median}x a client's copy)` }).join('; '))
process.exit(0)
