import { randomBytes } from 'node:crypto'
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { timed } from '../lib/mesh-load.js'
import { round } from '../lib/stats.js'
import { sdkGet, sdkKey, type LoadResult } from '../s3-http/sdk-load.js'
import { cpuMs } from '../s3-http/targets.js'

/** CPU time per operation (ms, user and system) of every process a load ran on: the servers (all of a cluster's) and this load generator. */
export interface ClusterCpu {
  /** Each server's, in the order of the pids given. */
  servers: number[]
  /** The servers' together. */
  serversTotal: number
  /** This process's (the SDK: signing, hashing, parsing). */
  client: number
}

/** A load with the CPU every process spent on it. */
export type Measured = LoadResult & { cpu: ClusterCpu }

/**
 * Runs `load` and reads the CPU time each process spent on it. On a machine
 * whose cores the load keeps busy, ops/s is about the cores over the CPU per
 * operation, so two loads' CPU per operation bound their ratio (a load whose
 * operations take twice another's CPU runs at about half its ops/s).
 */
export async function withClusterCpu (pids: number[], load: () => Promise<LoadResult>): Promise<Measured> {
  const before = await Promise.all(pids.map(cpuMs))
  const self = process.cpuUsage()
  const result = await load()
  const used = process.cpuUsage(self)
  const after = await Promise.all(pids.map(cpuMs))
  const servers = after.map((a, i) => (a.user + a.system - before[i]!.user - before[i]!.system) / result.ops)
  return {
    ...result,
    cpu: { servers: servers.map(ms => round(ms, 3)), serversTotal: round(servers.reduce((a, b) => a + b, 0), 3), client: round((used.user + used.system) / 1000 / result.ops, 3) },
  }
}

/**
 * sdkPutGet's PUTs and GETs (the same keys, body size and SDK calls), each
 * load measured on its own with the CPU of every process in `pids`. Not
 * sdkPutGet itself: it measures one server, and the six benchmarks that
 * share it would change with it.
 */
export async function measuredPutGet (s3: S3Client, bucket: string, size: number, count: number, concurrency: number, pids: number[]): Promise<{ put: Measured, get: Measured }> {
  const body = randomBytes(size)
  // No retries (the client has maxAttempts 1): the first failure fails the run.
  const put = await withClusterCpu(pids, async () => await timed(count, concurrency, size, async i => { await s3.send(new PutObjectCommand({ Bucket: bucket, Key: sdkKey(size, i), Body: body })) }))
  const get = await withClusterCpu(pids, async () => await sdkGet(s3, bucket, size, count, concurrency))
  return { put, get }
}
