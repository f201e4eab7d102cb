/**
 * bench/writes: what S3's other ways of writing cost against a plain PUT, in
 * the same run.
 *
 * 1. A browser's two ways to upload without the secret key, on one node:
 *    POST Object (a form with a signed policy, multipart/form-data, parsed as
 *    it streams) against a PUT to a presigned URL, both sent by fetch, 8 at a
 *    time, 64 KiB and 1 MiB. Everything signed beforehand (a policy for the
 *    whole run, a URL per key): only the upload is timed.
 * 2. Conditional writes on a mesh of three `s3mesh server` processes (R=2):
 *    PutObject with If-None-Match: * (new keys) against the same PUTs without
 *    it, with the AWS SDK, 8 at a time, 64 KiB, through every node in turn
 *    (each bucket's arbiter is one of them: the others ask it over the mesh).
 * 3. Checksums kept, on one node: PutObject of 1 MiB with the AWS SDK, 8 at
 *    a time, with a CRC64/NVME checksum (which the server checks in
 *    JavaScript, with the SDK's own implementation) against the same with
 *    CRC32 (the SDK's default, checked by zlib).
 *
 * Rounds alternate the two sides (ABBA); figures are medians of the rounds'
 * ops/s, with the range. JSON (kept in bench/results/writes.json), then a
 * one-line summary.
 *
 *   npm run bench:writes
 *   npm run bench:writes -- --runs 5     # rounds (default 3)
 *   npm run bench:writes -- --quick
 */
import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { createPresignedPost } from '@aws-sdk/s3-presigned-post'
import { getSignedUrl } from '@aws-sdk/s3-request-presigner'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { percentile, round, showSpread, spread } from '../lib/stats.js'

const options = benchOptions(3)
const quick = options.quick
const CONCURRENCY = 8
const COUNT: Record<number, number> = { [64 * 1024]: quick ? 200 : 1500, [1024 * 1024]: quick ? 50 : 300 }
const BUCKET = 'writes'

function sdk (url: string): S3Client {
  return new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } })
}

interface Load { opsPerSec: number, p50ms: number, p99ms: number }

/** `count` operations, `concurrency` at a time; any failure fails the run (no retries). */
async function load (count: number, op: (i: number) => Promise<void>): Promise<Load> {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const i = next++
      const t = performance.now()
      await op(i)
      latencies.push(performance.now() - t)
    }
  }))
  const seconds = (performance.now() - started) / 1000
  return { opsPerSec: round(count / seconds), p50ms: round(percentile(latencies, 50), 2), p99ms: round(percentile(latencies, 99), 2) }
}

async function ok (res: Response, what: string): Promise<void> {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${await res.text()}`)
  await res.body?.cancel()
}

/** Rounds of A and B in ABBA order; each side's figures by round. */
async function rounds (a: (round: number) => Promise<Load>, b: (round: number) => Promise<Load>): Promise<{ a: Load[], b: Load[] }> {
  const out = { a: [] as Load[], b: [] as Load[] }
  for (let r = 0; r < options.runs; r++) {
    if (r % 2 === 0) { out.a.push(await a(r)); out.b.push(await b(r)) } else { out.b.push(await b(r)); out.a.push(await a(r)) }
  }
  return out
}

function figures (r: { a: Load[], b: Load[] }): Record<string, unknown> {
  const ratio = spread(r.a.map((x, i) => x.opsPerSec / r.b[i]!.opsPerSec))
  return { ratio, a: { opsPerSec: spread(r.a.map(x => x.opsPerSec), 1), p50ms: spread(r.a.map(x => x.p50ms)) }, b: { opsPerSec: spread(r.b.map(x => x.opsPerSec), 1), p50ms: spread(r.b.map(x => x.p50ms)) } }
}

async function browserUploads (node: ServerProcess): Promise<Record<string, unknown>> {
  const s3 = sdk(node.url)
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  const out: Record<string, unknown> = {}
  for (const size of [64 * 1024, 1024 * 1024]) {
    const count = COUNT[size]!
    const body = randomBytes(size)
    const form = await createPresignedPost(s3, { Bucket: BUCKET, Key: `post-${size}/\${filename}`, Conditions: [['starts-with', '$key', `post-${size}/`]], Expires: 3600 })
    const post = async (r: number): Promise<Load> => await load(count, async i => {
      const data = new FormData()
      for (const [k, v] of Object.entries(form.fields)) data.append(k, v)
      data.append('file', new Blob([body]), `${r}-${i}`)
      await ok(await fetch(form.url, { method: 'POST', body: data }), 'POST')
    })
    const urls: string[][] = []
    for (let r = 0; r < options.runs; r++) urls.push(await Promise.all(Array.from({ length: count }, async (_, i) => await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: `put-${size}/${r}-${i}` }), { expiresIn: 3600 }))))
    const put = async (r: number): Promise<Load> => await load(count, async i => { await ok(await fetch(urls[r]![i]!, { method: 'PUT', body }), 'PUT') })
    out[String(size)] = figures(await rounds(post, put))
  }
  s3.destroy()
  return out
}

async function conditionalWrites (nodes: ServerProcess[]): Promise<Record<string, unknown>> {
  const clients = nodes.map(n => sdk(n.url))
  await clients[0]!.send(new CreateBucketCommand({ Bucket: BUCKET }))
  const size = 64 * 1024
  const count = COUNT[size]!
  const body = randomBytes(size)
  // Every node answers for the bucket before anything is timed.
  for (const c of clients) for (let tries = 0; ; tries++) { try { await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'probe', Body: 'p' })); break } catch (err) { if (tries > 100) throw err; await new Promise(resolve => setTimeout(resolve, 100)) } }
  const put = (prefix: string, condition: { IfNoneMatch?: string }) => async (r: number): Promise<Load> => await load(count, async i => {
    await clients[i % clients.length]!.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${r}-${i}`, Body: body, ...condition }))
  })
  const result = figures(await rounds(put('conditional', { IfNoneMatch: '*' }), put('plain', {})))
  for (const c of clients) c.destroy()
  return { [String(size)]: result }
}

async function checksums (node: ServerProcess): Promise<Record<string, unknown>> {
  const s3 = sdk(node.url)
  const size = 1024 * 1024
  const count = COUNT[size]!
  const body = randomBytes(size)
  const put = (algorithm: 'CRC64NVME' | 'CRC32') => async (r: number): Promise<Load> => await load(count, async i => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${algorithm}/${r}-${i}`, Body: body, ChecksumAlgorithm: algorithm }))
  })
  const result = figures(await rounds(put('CRC64NVME'), put('CRC32')))
  s3.destroy()
  return { [String(size)]: result }
}

const single = await startServerProcess()
let browser: Record<string, unknown>
let sums: Record<string, unknown>
try {
  browser = await browserUploads(single)
  sums = await checksums(single)
} finally { await single.stop() }

const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
const args = ['--membership', 'local', '--replicas', '2']
const nodes: ServerProcess[] = [await startServerProcess({ env, args })]
let conditional: Record<string, unknown>
try {
  for (let i = 0; i < 2; i++) nodes.push(await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))
  conditional = await conditionalWrites(nodes)
} finally {
  for (const n of nodes) await n.stop().catch(() => {})
}

const r = (x: Record<string, unknown>, size: number): ReturnType<typeof spread> => (x[String(size)] as { ratio: ReturnType<typeof spread> }).ratio
await keep('writes', options, { concurrency: CONCURRENCY, counts: COUNT, browser, conditional, checksums: sums },
  `POST Object over a presigned PUT ${showSpread(r(browser, 64 * 1024), 'x')} (64 KiB), ${showSpread(r(browser, 1024 * 1024), 'x')} (1 MiB); ` +
  `If-None-Match: * over a plain PUT on three nodes ${showSpread(r(conditional, 64 * 1024), 'x')} (64 KiB); ` +
  `a CRC64/NVME PUT over a CRC32 one ${showSpread(r(sums, 1024 * 1024), 'x')} (1 MiB)`)
