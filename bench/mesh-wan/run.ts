/**
 * bench/mesh-wan: S3 PUT and GET of 64 KiB across machines 40 ms apart, a
 * replicated PUT (three nodes, two copies) against a single node's, in the
 * same lab and the same run. Each "machine" is a network namespace of
 * test/netns/lab.ts: 40 ms round trips between any two (added in user space;
 * no loss, so the percentiles are the mesh's and not the lab's drop draws),
 * the client on a host of its own, every node on the WAN membership preset.
 *
 * Goal (Garage's for geo-distributed clusters): a replicated PUT costs at
 * most one round trip more than a single node's PUT, at the median.
 *
 * One PUT at a time (latency, not throughput), N per target and round,
 * targets alternating within each round; GETs read the objects just put.
 * Needs root (network namespaces).
 *
 * JSON (kept in bench/results/mesh-wan.json), then a one-line summary.
 *
 *   npm run bench:mesh-wan
 *   npm run bench:mesh-wan -- --runs 5     # rounds (default 3)
 *   npm run bench:mesh-wan -- --quick
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLab } from '../../test/netns/lab.js'
import { labClient, startLabNode, type LabNode } from '../../test/netns/lab-nodes.js'
import { until } from '../../test/helpers/until.js'
import { benchOptions, keep } from '../lib/keep.js'
import { percentile, round, spread, showSpread } from '../lib/stats.js'

const options = benchOptions(3)
const RTT_MS = 40
const SIZE = 64 * 1024
const N = options.quick ? 10 : 60
const WARMUP = 5

if (process.getuid?.() !== 0) {
  process.stderr.write('bench:mesh-wan needs root: it makes network namespaces.\n')
  process.exit(1)
}

const lab = await createLab({ hosts: ['n1', 'n2', 'n3', 'single', 'client'], rttMs: RTT_MS, loss: 0 })
const work = await mkdtemp(join(tmpdir(), 's3mesh-bench-wan-'))
const started: LabNode[] = []
try {
  const key = randomBytes(32).toString('base64')
  const env = { S3MESH_CLUSTER_KEY: key }
  const single = await startLabNode(lab, 'single', { dataDir: `${work}/single`, args: ['--no-mesh'] })
  started.push(single)
  const n1 = await startLabNode(lab, 'n1', { dataDir: `${work}/n1`, args: ['--membership', 'wan'], env })
  started.push(n1)
  for (const h of ['n2', 'n3']) started.push(await startLabNode(lab, h, { dataDir: `${work}/${h}`, args: ['--membership', 'wan', '--join', n1.meshAddress], env }))
  await until('n1 lists three members alive', async () => {
    const [r] = await labClient(lab, 'client', ['signed-get', `${n1.url}/_s3mesh/v1/members`])
    return r?.status === 200 && (JSON.parse(r.body!) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length === 3
  }, 60_000)

  const targets = { single: single.url, replicated: n1.url }
  const rounds: Array<Record<keyof typeof targets, { put: number[], get: number[] }>> = []
  for (let r = 0; r < options.runs; r++) {
    const round_ = {} as Record<keyof typeof targets, { put: number[], get: number[] }>
    const order = (r % 2 === 0 ? ['single', 'replicated'] : ['replicated', 'single']) as Array<keyof typeof targets>
    for (const name of order) {
      const url = targets[name]
      await labClient(lab, 'client', ['put', url, 'wan', `warm-${r}-`, String(WARMUP), String(SIZE)])
      const puts = await labClient(lab, 'client', ['put', url, 'wan', `r${r}-`, String(N), String(SIZE)])
      const failed = puts.filter(p => p.status !== 200)
      if (failed.length > 0) throw new Error(`${name}: ${failed.length} PUTs failed: ${JSON.stringify(failed[0])}`)
      const gets = await labClient(lab, 'client', ['get-stdin', url, 'wan'], { input: puts.map(p => p.key).join('\n') })
      if (gets.some((g, i) => g.status !== 200 || g.sha256 !== puts[i]!.sha256)) throw new Error(`${name}: a GET did not return what was put`)
      round_[name] = { put: puts.map(p => p.ms!), get: gets.map(g => g.ms!) }
    }
    rounds.push(round_)
    process.stderr.write(`mesh-wan: round ${r + 1} of ${options.runs}: PUT p50 single ${round(percentile(round_.single.put, 50))} ms, replicated ${round(percentile(round_.replicated.put, 50))} ms\n`)
  }
  const per = (name: keyof typeof targets, op: 'put' | 'get', p: number) => spread(rounds.map(r => percentile(r[name][op], p)), 1)
  const extraRtts = spread(rounds.map(r => (percentile(r.replicated.put, 50) - percentile(r.single.put, 50)) / RTT_MS), 2)
  const result = {
    rttMs: RTT_MS, objectBytes: SIZE, putsPerRound: N, loss: 0,
    put: { single: { p50: per('single', 'put', 50), p99: per('single', 'put', 99) }, replicated: { p50: per('replicated', 'put', 50), p99: per('replicated', 'put', 99) } },
    get: { single: { p50: per('single', 'get', 50), p99: per('single', 'get', 99) }, replicated: { p50: per('replicated', 'get', 50), p99: per('replicated', 'get', 99) } },
    extraRoundTrips: extraRtts,
    goal: { extraRoundTrips: 1, met: extraRtts.median <= 1 },
    lab: await lab.stats(),
  }
  await keep('mesh-wan', options, result,
    `mesh-wan: 64 KiB PUT p50 at ${RTT_MS} ms RTT: single node ${showSpread(result.put.single.p50, ' ms')}, replicated (R=2 of 3) ${showSpread(result.put.replicated.p50, ' ms')}: ` +
    `${showSpread(extraRtts)} round trips more (goal ≤ 1: ${result.goal.met ? 'met' : 'missed'}); GET p50 ${showSpread(result.get.single.p50, ' ms')} vs ${showSpread(result.get.replicated.p50, ' ms')}`)
} finally {
  for (const n of started) await n.stop().catch(() => {})
  await lab.close()
  await rm(work, { recursive: true, force: true })
}
