/**
 * bench/mesh-s3: the S3 load of bench/s3-http (AWS SDK v3, default settings,
 * 8 at a time) against one node and against a three-node cluster with two
 * replicas, in the same run on this machine, reported as ratios to one node.
 * On the cluster, PUTs and GETs go to node 1 (each PUT waits for its second
 * copy), then the same objects are read through node 2, which holds about
 * two thirds of them and fetches the rest from a holder (checked, then kept).
 * JSON, then a one-line summary.
 *
 *   npm run bench:mesh-s3
 *   npm run bench:mesh-s3 -- --quick
 */
import { randomBytes } from 'node:crypto'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { round } from '../lib/stats.js'
import { client, ensureBucket, sdkGet, sdkPutGet, type LoadResult } from '../s3-http/sdk-load.js'
import type { Target } from '../s3-http/targets.js'

const quick = process.argv.includes('--quick')
const CONCURRENCY = 8
const cases = [
  { name: '64KiB', size: 64 * 1024, count: quick ? 200 : 1000 },
  { name: '1MiB', size: 1024 * 1024, count: quick ? 40 : 200 },
]

const target = (name: string, n: ServerProcess): Target => ({ name, url: n.url, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, pid: n.child.pid!, stop: async () => { await n.stop() } })

async function alive (nodes: ServerProcess[], count: number): Promise<void> {
  const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
  const end = Date.now() + 30_000
  for (;;) {
    const views = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length))
    if (views.every(v => v === count)) return
    if (Date.now() > end) throw new Error('the cluster did not form')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

interface CaseResult { put: LoadResult, get: LoadResult, getElsewhere?: LoadResult }

async function run (put: Target, elsewhere?: Target): Promise<Record<string, CaseResult>> {
  const s3 = client(put)
  await ensureBucket(s3, 'bench')
  // Another node must know the bucket before it is read through it.
  await new Promise(resolve => setTimeout(resolve, 500))
  const out: Record<string, CaseResult> = {}
  for (const c of cases) {
    const { put: p, get } = await sdkPutGet(s3, 'bench', c.size, c.count, CONCURRENCY)
    out[c.name] = { put: p, get }
    if (elsewhere !== undefined) {
      const other = client(elsewhere)
      out[c.name]!.getElsewhere = await sdkGet(other, 'bench', c.size, c.count, CONCURRENCY)
      other.destroy()
    }
  }
  s3.destroy()
  return out
}

const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
process.stderr.write('mesh-s3: one node\n')
const single = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') } })
const one = await run(target('one node', single))
await single.stop()

process.stderr.write('mesh-s3: three nodes, two replicas\n')
const nodes = [await startServerProcess({ env, args: ['--replicas', '2'] })]
for (let i = 0; i < 2; i++) nodes.push(await startServerProcess({ env, args: ['--replicas', '2', '--join', nodes[0]!.meshAddress!] }))
await alive(nodes, 3)
const three = await run(target('node 1 of 3', nodes[0]!), target('node 2 of 3', nodes[1]!))
for (const n of nodes) await n.stop()

const ratios = Object.fromEntries(cases.map(c => [c.name, {
  put: round(three[c.name]!.put.opsPerSec / one[c.name]!.put.opsPerSec, 2),
  get: round(three[c.name]!.get.opsPerSec / one[c.name]!.get.opsPerSec, 2),
  getElsewhere: round(three[c.name]!.getElsewhere!.opsPerSec / one[c.name]!.get.opsPerSec, 2),
}]))
process.stdout.write(JSON.stringify({ bench: 'mesh-s3', date: new Date().toISOString(), node: process.version, concurrency: CONCURRENCY, oneNode: one, threeNodes: three, ratios }, null, 2) + '\n')
process.stdout.write('mesh-s3: 3 nodes (R=2) vs 1 node, SDK ops/s: ' + cases.map(c => {
  const r = ratios[c.name]!
  return `${c.name} PUT ${three[c.name]!.put.opsPerSec} vs ${one[c.name]!.put.opsPerSec} (${r.put}x), GET ${r.get}x, GET through another node ${three[c.name]!.getElsewhere!.opsPerSec}/s (${r.getElsewhere}x)`
}).join('; ') + '\n')
process.exit(0)
