import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { percentile, round } from '../lib/stats.js'
import { cpuMs, type Target } from './targets.js'

export interface LoadResult {
  ops: number
  seconds: number
  opsPerSec: number
  mbPerSec: number
  p50ms: number
  p99ms: number
  errors: number
  /** The server's CPU time per operation (ms), from its /proc readings around the load. */
  cpuMsPerOp?: { user: number, system: number }
}

/** Runs `load` and adds the server's CPU time per operation to its result. */
export async function withCpu (pid: number, load: () => Promise<LoadResult>): Promise<LoadResult> {
  const before = await cpuMs(pid)
  const result = await load()
  const after = await cpuMs(pid)
  return { ...result, cpuMsPerOp: { user: round((after.user - before.user) / result.ops, 3), system: round((after.system - before.system) / result.ops, 3) } }
}

export function client (target: Target): S3Client {
  return new S3Client({ endpoint: target.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: target.accessKey, secretAccessKey: target.secretKey } })
}

export async function ensureBucket (s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => {})
}

/**
 * Runs `count` operations, `concurrency` at a time, timing each. A failed
 * operation fails the run (with no retries, a figure that skipped errors
 * would not be the server's): the first error is thrown once all settle.
 */
async function pool (count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<{ latencies: number[], seconds: number, errors: number }> {
  const latencies: number[] = []
  let next = 0
  let errors = 0
  let first: unknown
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      const t = performance.now()
      try { await op(i); latencies.push(performance.now() - t) } catch (err) { errors++; first ??= err }
    }
  }))
  if (errors > 0) throw new Error(`${errors} of ${count} operations failed; the first: ${String(first)}`)
  return { latencies, seconds: (performance.now() - started) / 1000, errors }
}

function summarise (r: { latencies: number[], seconds: number, errors: number }, size: number): LoadResult {
  const ops = r.latencies.length
  return {
    ops, seconds: round(r.seconds, 2), opsPerSec: round(ops / r.seconds), mbPerSec: round(ops * size / r.seconds / 1e6),
    p50ms: round(percentile(r.latencies, 50), 2), p99ms: round(percentile(r.latencies, 99), 2), errors: r.errors,
  }
}

/** The AWS SDK v3 with default settings (CRC32 checksums on PUT), as applications use it; with the server's CPU per operation when its pid is given. */
export async function sdkPutGet (s3: S3Client, bucket: string, size: number, count: number, concurrency: number, pid?: number): Promise<{ put: LoadResult, get: LoadResult }> {
  const body = randomBytes(size)
  const key = (i: number): string => sdkKey(size, i)
  const putLoad = async (): Promise<LoadResult> => summarise(await pool(count, concurrency, async i => { await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(i), Body: body })) }), size)
  const getLoad = async (): Promise<LoadResult> => await sdkGet(s3, bucket, size, count, concurrency)
  if (pid === undefined) return { put: await putLoad(), get: await getLoad() }
  return { put: await withCpu(pid, putLoad), get: await withCpu(pid, getLoad) }
}

/** GETs the `count` objects sdkPutGet wrote at `size` (possibly through another node of a mesh). */
export async function sdkGet (s3: S3Client, bucket: string, size: number, count: number, concurrency: number): Promise<LoadResult> {
  return await sdkGetKeys(s3, bucket, Array.from({ length: count }, (_, i) => sdkKey(size, i)), size, concurrency)
}

/** The key sdkPutGet gives its `i`th object of `size` bytes. */
export function sdkKey (size: number, i: number): string {
  return `sdk-${size}/${i}`
}

/** GETs `keys` (objects of `size` bytes), in order, `concurrency` at a time. */
export async function sdkGetKeys (s3: S3Client, bucket: string, keys: string[], size: number, concurrency: number): Promise<LoadResult> {
  const get = await pool(keys.length, concurrency, async i => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[i] }))
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
