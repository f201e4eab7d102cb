/**
 * bench/lifecycle: what a node's lifecycle pass costs, against a client doing
 * the same work through S3, in the same run, on one `s3mesh server` (a mesh
 * of one; its rules run every second, their clock moved three days on).
 *
 * 1. A pass over a bucket of N small objects where nothing is due (a 30-day
 *    rule): the pass's own time (s3mesh_lifecycle_last_pass_seconds) against
 *    the AWS SDK listing the same bucket whole (ListObjectsV2, 1,000 a page).
 * 2. A pass that expires those N objects (a 2-day rule): its time against the
 *    SDK deleting N others with DeleteObjects (1,000 keys a request, one
 *    request at a time), as a client clearing a prefix would. Also the time
 *    from the rule's PUT until every object is gone (a pass starts within the
 *    second).
 *
 * Figures are medians of the rounds, with the range. JSON (kept in
 * bench/results/lifecycle.json), then a one-line summary.
 *
 *   npm run bench:lifecycle
 *   npm run bench:lifecycle -- --runs 5     # rounds (default 3)
 *   npm run bench:lifecycle -- --quick
 */
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutBucketLifecycleConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { ACCESS_KEY, SECRET_KEY, metric, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { round, showSpread, spread } from '../lib/stats.js'

const options = benchOptions(3)
const N = options.quick ? 1_000 : 10_000
const CONCURRENCY = 8
const BODY = new Uint8Array(1024).fill(42)

const s3 = (url: string): S3Client => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function fill (client: S3Client, bucket: string): Promise<string[]> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  const keys = Array.from({ length: N }, (_, i) => `obj/${String(i).padStart(6, '0')}`)
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < keys.length) await client.send(new PutObjectCommand({ Bucket: bucket, Key: keys[next++]!, Body: BODY }))
  }))
  return keys
}

async function rule (client: S3Client, bucket: string, days: number): Promise<void> {
  await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: [{ ID: `after-${days}`, Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: days } }] } }))
}

/** Waits until the node has finished `count` more passes than it had. */
async function passes (node: ServerProcess, count: number): Promise<void> {
  const target = await metric(node, 's3mesh_lifecycle_passes_total') + count
  while (await metric(node, 's3mesh_lifecycle_passes_total') < target) await sleep(50)
}

async function round1 (node: ServerProcess, client: S3Client, r: number): Promise<Record<string, number>> {
  const aging = `aging-${r}`
  const cleared = `cleared-${r}`
  await fill(client, aging)
  const others = await fill(client, cleared)

  // Nothing due: the pass walks the bucket.
  await rule(client, aging, 30)
  await passes(node, 2)
  const idlePass = await metric(node, 's3mesh_lifecycle_last_pass_seconds')
  let t = performance.now()
  let listed = 0
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: aging, ContinuationToken: token }))
    listed += page.KeyCount ?? 0
    token = page.NextContinuationToken
  } while (token !== undefined)
  const listing = (performance.now() - t) / 1000
  if (listed !== N) throw new Error(`listed ${listed} of ${N}`)

  // Due: the pass deletes them all.
  const before = await metric(node, 's3mesh_lifecycle_expired_objects_total')
  t = performance.now()
  await rule(client, aging, 2)
  while (await metric(node, 's3mesh_lifecycle_expired_objects_total') < before + N) await sleep(20)
  const untilGone = (performance.now() - t) / 1000
  const expiringPass = await metric(node, 's3mesh_lifecycle_last_pass_seconds')
  if (((await client.send(new ListObjectsV2Command({ Bucket: aging }))).KeyCount ?? 0) !== 0) throw new Error('objects left after the pass')

  t = performance.now()
  for (let i = 0; i < others.length; i += 1000) {
    const r = await client.send(new DeleteObjectsCommand({ Bucket: cleared, Delete: { Objects: others.slice(i, i + 1000).map(Key => ({ Key })), Quiet: true } }))
    if ((r.Errors ?? []).length > 0) throw new Error(`DeleteObjects failed: ${JSON.stringify(r.Errors![0])}`)
  }
  const deleting = (performance.now() - t) / 1000
  return { idlePass, listing, expiringPass, untilGone, deleting }
}

const node = await startServerProcess({ args: ['--lifecycle-interval', '1'], env: { S3MESH_LIFECYCLE_CLOCK_SKEW_DAYS: '3' } })
const client = s3(node.url)
const rounds: Array<Record<string, number>> = []
try {
  for (let r = 0; r < options.runs; r++) rounds.push(await round1(node, client, r))
} finally {
  client.destroy()
  await node.stop()
}

const of = (name: string, digits = 3): ReturnType<typeof spread> => spread(rounds.map(x => round(x[name]!, digits)), digits)
const result = {
  objects: N,
  idle: { passSeconds: of('idlePass'), listingSeconds: of('listing'), ratio: spread(rounds.map(x => x.idlePass! / x.listing!)) },
  expiring: {
    passSeconds: of('expiringPass'),
    untilGoneSeconds: of('untilGone'),
    deleteObjectsSeconds: of('deleting'),
    perSecond: spread(rounds.map(x => N / x.expiringPass!), 0),
    deleteObjectsPerSecond: spread(rounds.map(x => N / x.deleting!), 0),
    ratio: spread(rounds.map(x => x.deleting! / x.expiringPass!)),
  },
}
await keep('lifecycle', options, result,
  `a pass over ${N} objects with nothing due ${showSpread(result.idle.passSeconds, ' s')} (SDK listing them ${showSpread(result.idle.listingSeconds, ' s')}); ` +
  `expiring them ${showSpread(result.expiring.passSeconds, ' s')}, ${showSpread(result.expiring.ratio, 'x')} the rate of DeleteObjects from the SDK`)
