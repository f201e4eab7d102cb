import { randomBytes } from 'node:crypto'
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { round } from '../lib/stats.js'

/** One large object up and down with the SDK: throughput of a single stream. */
export async function bigObject (s3: S3Client, bucket: string, size: number): Promise<{ putMBps: number, getMBps: number }> {
  const body = randomBytes(size)
  let t = performance.now()
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big-object', Body: body }))
  const putSeconds = (performance.now() - t) / 1000
  t = performance.now()
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big-object' }))
  let n = 0
  for await (const c of res.Body as AsyncIterable<Uint8Array>) n += c.length
  if (n !== size) throw new Error(`short read: ${n} of ${size}`)
  const getSeconds = (performance.now() - t) / 1000
  return { putMBps: round(size / putSeconds / 1e6), getMBps: round(size / getSeconds / 1e6) }
}
