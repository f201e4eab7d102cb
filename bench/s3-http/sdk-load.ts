import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { percentile, round } from '../lib/stats.js'
import type { Target } from './targets.js'

export interface LoadResult {
  ops: number
  seconds: number
  opsPerSec: number
  mbPerSec: number
  p50ms: number
  p99ms: number
  errors: number
}

export function client (target: Target): S3Client {
  return new S3Client({ endpoint: target.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: target.accessKey, secretAccessKey: target.secretKey } })
}

export async function ensureBucket (s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => {})
}

/** Runs `count` operations, `concurrency` at a time, timing each. */
async function pool (count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<{ latencies: number[], seconds: number, errors: number }> {
  const latencies: number[] = []
  let next = 0
  let errors = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      const t = performance.now()
      try { await op(i); latencies.push(performance.now() - t) } catch { errors++ }
    }
  }))
  return { latencies, seconds: (performance.now() - started) / 1000, errors }
}

function summarise (r: { latencies: number[], seconds: number, errors: number }, size: number): LoadResult {
  const ops = r.latencies.length
  return {
    ops, seconds: round(r.seconds, 2), opsPerSec: round(ops / r.seconds), mbPerSec: round(ops * size / r.seconds / 1e6),
    p50ms: round(percentile(r.latencies, 50), 2), p99ms: round(percentile(r.latencies, 99), 2), errors: r.errors,
  }
}

/** The AWS SDK v3 with default settings (CRC32 checksums on PUT), as applications use it. */
export async function sdkPutGet (s3: S3Client, bucket: string, size: number, count: number, concurrency: number): Promise<{ put: LoadResult, get: LoadResult }> {
  const body = randomBytes(size)
  const key = (i: number): string => `sdk-${size}/${i}`
  const put = await pool(count, concurrency, async i => { await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(i), Body: body })) })
  return { put: summarise(put, size), get: await sdkGet(s3, bucket, size, count, concurrency) }
}

/** GETs the `count` objects sdkPutGet wrote at `size` (possibly through another node of a mesh). */
export async function sdkGet (s3: S3Client, bucket: string, size: number, count: number, concurrency: number): Promise<LoadResult> {
  const get = await pool(count, concurrency, async i => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `sdk-${size}/${i}` }))
    let n = 0
    for await (const c of res.Body as AsyncIterable<Uint8Array>) n += c.length
    if (n !== size) throw new Error(`short read: ${n}`)
  })
  return summarise(get, size)
}

/** Writes `count` objects named `<prefix>-<size>/<i>` (setup, not measured). */
export async function putKeys (s3: S3Client, bucket: string, prefix: string, size: number, count: number): Promise<void> {
  const body = randomBytes(size)
  await pool(count, 8, async i => { await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}-${size}/${i}`, Body: body })) })
}
