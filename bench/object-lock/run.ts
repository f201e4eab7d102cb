/**
 * bench/object-lock: what S3 Object Lock costs on the mesh, against the same
 * work in a versioned bucket without it, in the same run: a three-node
 * cluster with two replicas (as bench/mesh-versions), the AWS SDK v3
 * (retries off, 8 at a time, 64 KiB objects), all through node 1.
 *
 * In each round, after a load not measured, into a fresh bucket of each kind
 * (their order alternating from round to round): a versioned bucket, and one
 * made with object lock and a default GOVERNANCE retention of a day:
 * 1. PUT N new keys (each version in the locked bucket gets the default
 *    retention), then GET them (the locked bucket's answers carry the lock).
 * 2. Change each version: its tags in the versioned bucket (a new entry
 *    version, announced), its retention extended in the locked one (the
 *    same, then announced and saved before the answer).
 * 3. DELETE each version by id: in the versioned bucket it goes; in the
 *    locked one it is refused (403), checked against the slot's entry.
 *
 * Figures are medians of the rounds with their range, ratios taken within a
 * round. JSON (kept in bench/results/object-lock.json), then a one-line summary.
 *
 *   npm run bench:object-lock
 *   npm run bench:object-lock -- --runs 5     # rounds (default 3)
 *   npm run bench:object-lock -- --quick
 */
import { randomBytes } from 'node:crypto'
import {
  CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand, PutObjectTaggingCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { ACCESS_KEY, SECRET_KEY, startServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive, timed } from '../lib/mesh-load.js'
import { showSpread, spread } from '../lib/stats.js'
import { client, type LoadResult } from '../s3-http/sdk-load.js'

const options = benchOptions(3)
const SIZE = 64 * 1024
const N = options.quick ? 200 : 600
const CONCURRENCY = 8
const DAY = 86_400_000

const key = (i: number): string => `l/${i}`

interface Side { put: LoadResult, get: LoadResult, change: LoadResult, delete: LoadResult }
interface Round { versioned: Side, locked: Side }

async function side (s3: S3Client, bucket: string, locked: boolean): Promise<Side> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(locked ? { ObjectLockEnabledForBucket: true } : {}) }))
  if (locked) await s3.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } }))
  else await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  // The other nodes hear of the bucket (and its settings) before the load.
  await new Promise(resolve => setTimeout(resolve, 500))
  const body = randomBytes(SIZE)
  const ids: string[] = []
  const put = await timed(N, CONCURRENCY, SIZE, async i => { ids[i] = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(i), Body: body }))).VersionId ?? '' })
  if (ids.some(id => id === '' || id === 'null')) throw new Error(`${bucket} named no version for a PUT`)
  const get = await timed(N, CONCURRENCY, SIZE, async i => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key(i) }))
    if (locked && res.ObjectLockMode !== 'GOVERNANCE') throw new Error(`${key(i)} has no default retention`)
    let n = 0
    for await (const c of res.Body as AsyncIterable<Uint8Array>) n += c.length
    if (n !== SIZE) throw new Error(`short read: ${n}`)
  })
  const until = new Date(Math.ceil((Date.now() + 2 * DAY) / 1000) * 1000)
  const change = await timed(N, CONCURRENCY, SIZE, async i => {
    const at = { Bucket: bucket, Key: key(i), VersionId: ids[i] }
    if (locked) await s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until } }))
    else await s3.send(new PutObjectTaggingCommand({ ...at, Tagging: { TagSet: [{ Key: 'kept', Value: 'yes' }] } }))
  })
  const deleted = await timed(N, CONCURRENCY, SIZE, async i => {
    const sent = s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key(i), VersionId: ids[i] }))
    if (!locked) { await sent; return }
    const refused = await sent.then(() => 'deleted', (err: Error) => err.name)
    if (refused !== 'AccessDenied') throw new Error(`a delete by id of locked ${key(i)} answered ${refused}`)
  })
  return { put, get, change, delete: deleted }
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
      const versionedFirst = n % 2 === 0
      const a = await side(s3, versionedFirst ? 'versioned' : 'locked', !versionedFirst)
      const b = await side(s3, versionedFirst ? 'locked' : 'versioned', versionedFirst)
      const [versioned, locked] = versionedFirst ? [a, b] : [b, a]
      return { versioned, locked }
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
const sideFigures = (s: (r: Round) => Side): Record<keyof Side, ReturnType<typeof figure>> => ({ put: figure(r => s(r).put), get: figure(r => s(r).get), change: figure(r => s(r).change), delete: figure(r => s(r).delete) })
const figures = { versioned: sideFigures(r => r.versioned), locked: sideFigures(r => r.locked) }
const ratios = {
  /** A PUT into the locked bucket (the default retention given) against one into the versioned bucket. */
  put: ratio(r => r.locked.put.opsPerSec / r.versioned.put.opsPerSec),
  /** A GET of a locked version (its lock in the answer) against one of an unlocked version. */
  get: ratio(r => r.locked.get.opsPerSec / r.versioned.get.opsPerSec),
  /** A retention extended (announced and saved before the answer) against a tag edit of a version. */
  change: ratio(r => r.locked.change.opsPerSec / r.versioned.change.opsPerSec),
  /** A delete by id refused by the lock against one that deletes. */
  delete: ratio(r => r.locked.delete.opsPerSec / r.versioned.delete.opsPerSec),
}
await keep('object-lock', options, { size: SIZE, count: N, concurrency: CONCURRENCY, figures, ratios, rounds },
  `3 nodes (R=2), 64 KiB, SDK ops/s through node 1, a bucket with object lock (a default retention) vs a versioned one, median (range) of ${options.runs} rounds: ` +
  `PUT ${showSpread(figures.locked.put.opsPerSec)} vs ${showSpread(figures.versioned.put.opsPerSec)} (${showSpread(ratios.put, 'x')}), ` +
  `GET ${showSpread(ratios.get, 'x')}, a retention extended vs a tag edit ${showSpread(figures.locked.change.opsPerSec)} vs ${showSpread(figures.versioned.change.opsPerSec)} (${showSpread(ratios.change, 'x')}), ` +
  `a delete by id refused vs one that deletes ${showSpread(ratios.delete, 'x')}`)
