/**
 * bench/mesh-versions: what S3 versioning costs on the mesh, against the
 * same work in a bucket that keeps no versions, in the same run: a three-node
 * cluster with two replicas (as bench/mesh-s3), the AWS SDK v3 (default
 * settings, 8 at a time, 64 KiB objects), all through node 1.
 *
 * In each round, after a load not measured (the first load of a cluster runs
 * colder), into a fresh bucket of each kind (their order alternating from
 * round to round):
 * 1. PUT N new keys, then GET them: a bucket never versioned against one
 *    with versioning on (each PUT names a version; no version before it).
 * 2. PUT the N keys again, then GET them: the unversioned bucket overwrites
 *    (the old copies go), the versioned one keeps the old versions (each
 *    holder stores the new one beside the old).
 * 3. In the versioned bucket, GET the N old versions by id against the GETs
 *    of the current versions just before.
 *
 * Figures are medians of the rounds with their range, ratios taken within a
 * round. JSON (kept in bench/results/mesh-versions.json), then a one-line summary.
 *
 *   npm run bench:mesh-versions
 *   npm run bench:mesh-versions -- --runs 5     # rounds (default 3)
 *   npm run bench:mesh-versions -- --quick
 */
import { randomBytes } from 'node:crypto'
import { GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { ACCESS_KEY, SECRET_KEY, startServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive, timed } from '../lib/mesh-load.js'
import { showSpread, spread } from '../lib/stats.js'
import { client, ensureBucket, type LoadResult } from '../s3-http/sdk-load.js'

const options = benchOptions(3)
const SIZE = 64 * 1024
const N = options.quick ? 200 : 600
const CONCURRENCY = 8

const key = (i: number): string => `v/${i}`

/** PUTs the N keys (their version ids, when the bucket names them). */
async function putAll (s3: S3Client, bucket: string): Promise<{ load: LoadResult, ids: string[] }> {
  const body = randomBytes(SIZE)
  const ids: string[] = []
  const load = await timed(N, CONCURRENCY, SIZE, async i => { ids[i] = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(i), Body: body }))).VersionId ?? '' })
  return { load, ids }
}

/** GETs the N keys (or the versions `ids` of them), checking each is whole. */
async function getAll (s3: S3Client, bucket: string, ids?: string[]): Promise<LoadResult> {
  return await timed(N, CONCURRENCY, SIZE, async i => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key(i), ...(ids === undefined ? {} : { VersionId: ids[i] }) }))
    let n = 0
    for await (const c of res.Body as AsyncIterable<Uint8Array>) n += c.length
    if (n !== SIZE) throw new Error(`short read: ${n}`)
  })
}

interface Side { put: LoadResult, get: LoadResult, overwrite: LoadResult, getAfter: LoadResult }
interface Round { plain: Side, versioned: Side, getOld: LoadResult }

async function side (s3: S3Client, bucket: string, versioned: boolean): Promise<{ side: Side, old: string[] }> {
  await ensureBucket(s3, bucket)
  if (versioned) await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  // The other nodes hear of the bucket (and its versioning) before the load.
  await new Promise(resolve => setTimeout(resolve, 500))
  const first = await putAll(s3, bucket)
  const get = await getAll(s3, bucket)
  const second = await putAll(s3, bucket)
  const getAfter = await getAll(s3, bucket)
  if (versioned && (first.ids.some(id => id === '' || id === 'null') || second.ids.some((id, i) => id === first.ids[i]))) throw new Error('the versioned bucket did not name a new version for each PUT')
  return { side: { put: first.load, get, overwrite: second.load, getAfter }, old: first.ids }
}

async function oneRound (n: number): Promise<Round> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const nodes = [await startServerProcess({ env, args: ['--replicas', '2'] })]
  try {
    for (let i = 0; i < 2; i++) nodes.push(await startServerProcess({ env, args: ['--replicas', '2', '--join', nodes[0]!.meshAddress!] }))
    await alive(nodes)
    const s3 = client({ name: 'node 1 of 3', url: nodes[0]!.url, accessKey: ACCESS_KEY, secretKey: SECRET_KEY, pid: nodes[0]!.child.pid!, stop: async () => {} })
    try {
      // A load first, not measured: the first load of a cluster runs colder (JIT, connections) than the next.
      await side(s3, 'warm-up', false)
      // Which kind goes first alternates: drift over a round (a fuller disk) falls on each in turn.
      const plainFirst = n % 2 === 0
      const a = await side(s3, plainFirst ? 'plain' : 'versioned', !plainFirst)
      const b = await side(s3, plainFirst ? 'versioned' : 'plain', plainFirst)
      const [plain, versioned] = plainFirst ? [a, b] : [b, a]
      const getOld = await getAll(s3, 'versioned', versioned.old)
      return { plain: plain.side, versioned: versioned.side, getOld }
    } finally { s3.destroy() }
  } finally {
    for (const node of nodes) await node.stop()
  }
}

const rounds: Round[] = []
for (let i = 0; i < options.runs; i++) {
  rounds.push(await oneRound(i))
  process.stderr.write(`round ${i + 1} of ${options.runs} done\n`)
}
const figure = (f: (r: Round) => LoadResult): { opsPerSec: ReturnType<typeof spread>, p50ms: ReturnType<typeof spread> } => ({ opsPerSec: spread(rounds.map(r => f(r).opsPerSec), 1), p50ms: spread(rounds.map(r => f(r).p50ms)) })
const ratio = (f: (r: Round) => number): ReturnType<typeof spread> => spread(rounds.map(f))
const figures = {
  plain: { put: figure(r => r.plain.put), get: figure(r => r.plain.get), overwrite: figure(r => r.plain.overwrite), getAfter: figure(r => r.plain.getAfter) },
  versioned: { put: figure(r => r.versioned.put), get: figure(r => r.versioned.get), overwrite: figure(r => r.versioned.overwrite), getAfter: figure(r => r.versioned.getAfter), getOld: figure(r => r.getOld) },
}
const ratios = {
  /** A versioned bucket's PUT of a new key against an unversioned bucket's. */
  put: ratio(r => r.versioned.put.opsPerSec / r.plain.put.opsPerSec),
  /** A PUT over a key that has a version (kept) against an overwrite (the old copies go). */
  overwrite: ratio(r => r.versioned.overwrite.opsPerSec / r.plain.overwrite.opsPerSec),
  /** A GET of the current version in the versioned bucket against the unversioned bucket's GET. */
  get: ratio(r => r.versioned.getAfter.opsPerSec / r.plain.getAfter.opsPerSec),
  /** A GET of an old version by its id against a GET of the current version. */
  getOld: ratio(r => r.getOld.opsPerSec / r.versioned.getAfter.opsPerSec),
}
await keep('mesh-versions', options, { size: SIZE, count: N, concurrency: CONCURRENCY, figures, ratios, rounds },
  `3 nodes (R=2), 64 KiB, SDK ops/s through node 1, versioned bucket vs one never versioned, median (range) of ${options.runs} rounds: ` +
  `PUT of a new key ${showSpread(figures.versioned.put.opsPerSec)} vs ${showSpread(figures.plain.put.opsPerSec)} (${showSpread(ratios.put, 'x')}), ` +
  `PUT over a kept version ${showSpread(figures.versioned.overwrite.opsPerSec)} vs an overwrite ${showSpread(figures.plain.overwrite.opsPerSec)} (${showSpread(ratios.overwrite, 'x')}), ` +
  `GET ${showSpread(ratios.get, 'x')}; GET of an old version by id vs the current one ${showSpread(ratios.getOld, 'x')}`)
