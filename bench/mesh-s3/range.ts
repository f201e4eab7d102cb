/**
 * bench:mesh-s3's range reads: 1 MiB ranges of a 256 MiB object, at random
 * offsets, read with the SDK one after another through a node that holds no
 * copy (node 3: the object's key is picked so that placement gives it none)
 * and the same ranges at a holder (node 1, the writer). Through node 3 only
 * the 1 MiB chunks holding each range travel, checked against the object's
 * chunk tree (a range at a random offset spans two chunks). The first range
 * through node 3 is timed apart: it waits for the holder to hash its copy
 * into the tree once.
 */
import { randomBytes } from 'node:crypto'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { Placement } from '../../src/core/mesh/placement.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, metric, SECRET_KEY, type ServerProcess } from '../../test/helpers/server-process.js'
import { percentile, round } from '../lib/stats.js'
import { client } from '../s3-http/sdk-load.js'
import type { Target } from '../s3-http/targets.js'

export interface RangeReads {
  objectBytes: number
  rangeBytes: number
  reads: number
  /** The first range through the non-holder (the holder makes the object's tree then), ms. */
  firstMs: number
  nonHolder: { opsPerSec: number, p50ms: number, p99ms: number }
  holder: { opsPerSec: number, p50ms: number, p99ms: number }
  /** What node 3 received from holders per range read, bytes. */
  receivedPerRead: number
}

const RANGE = 1024 * 1024

async function ids (nodes: ServerProcess[]): Promise<string[]> {
  const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
  return await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ id: string, self?: boolean }> }).members.find(m => m.self === true)!.id))
}

/** Reads `offsets` as 1 MiB ranges, one after another; checks each against `body`. */
async function readRanges (target: Target, key: string, body: Buffer, offsets: number[]): Promise<number[]> {
  const s3 = client(target)
  const times: number[] = []
  try {
    for (const start of offsets) {
      const t0 = performance.now()
      const res = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: key, Range: `bytes=${start}-${start + RANGE - 1}` }))
      const got = await res.Body!.transformToByteArray()
      times.push(performance.now() - t0)
      if (!body.subarray(start, start + RANGE).equals(got)) throw new Error(`the range at ${start} came back different through ${target.name}`)
    }
  } finally {
    s3.destroy()
  }
  return times
}

const figures = (times: number[]): RangeReads['holder'] => ({
  opsPerSec: round(times.length / (times.reduce((a, b) => a + b, 0) / 1000), 1),
  p50ms: round(percentile(times, 50), 2),
  p99ms: round(percentile(times, 99), 2),
})

/** `nodes`: a formed three-node cluster with two replicas, bucket "bench" made. */
export async function rangeReads (nodes: ServerProcess[], target: (name: string, n: ServerProcess) => Target, quick: boolean): Promise<RangeReads> {
  const objectBytes = (quick ? 32 : 256) * 1024 * 1024
  const reads = quick ? 10 : 60
  const members = await ids(nodes)
  let key = ''
  for (let i = 0; key === '' || new Placement(members).replicas('bench', key, 2).includes(members[2]!); i++) key = `range-${i}.bin`
  const body = randomBytes(objectBytes)
  const writer = client(target('node 1 of 3', nodes[0]!))
  await writer.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: body }))
  writer.destroy()
  const through = target('node 3 of 3 (no copy)', nodes[2]!)
  const at = target('node 1 of 3 (a holder)', nodes[0]!)
  // The same offsets for both, so each reads the same bytes.
  const offsets = Array.from({ length: reads + 1 }, () => Math.floor(Math.random() * (objectBytes - RANGE)))
  const before = await metric(nodes[2]!, 's3mesh_transfer_received_bytes_total')
  const [firstMs] = await readRanges(through, key, body, offsets.slice(0, 1))
  const nonHolder = await readRanges(through, key, body, offsets.slice(1))
  const received = await metric(nodes[2]!, 's3mesh_transfer_received_bytes_total') - before
  const holder = await readRanges(at, key, body, offsets.slice(1))
  return {
    objectBytes, rangeBytes: RANGE, reads, firstMs: round(firstMs!, 1),
    nonHolder: figures(nonHolder), holder: figures(holder), receivedPerRead: Math.round(received / (reads + 1)),
  }
}
