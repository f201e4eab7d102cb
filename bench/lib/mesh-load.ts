/** What the benchmarks that load a cluster of `s3mesh server` processes through the AWS SDK share. */
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, type ServerProcess } from '../../test/helpers/server-process.js'
import type { LoadResult } from '../s3-http/sdk-load.js'
import { percentile, round } from './stats.js'

/** Resolves once every node sees every node alive (30 s at most). */
export async function alive (nodes: ServerProcess[]): Promise<void> {
  const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
  const end = Date.now() + 30_000
  for (;;) {
    const views = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length))
    if (views.every(v => v === nodes.length)) return
    if (Date.now() > end) throw new Error('the cluster did not form')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

/** Runs `count` operations, `concurrency` at a time, timing each (objects of `size` bytes, for MB/s). A failure fails the run. */
export async function timed (count: number, concurrency: number, size: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  const latencies: number[] = []
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++
      const t = performance.now()
      await op(i)
      latencies.push(performance.now() - t)
    }
  }))
  const seconds = (performance.now() - started) / 1000
  return {
    ops: count, seconds: round(seconds, 2), opsPerSec: round(count / seconds), mbPerSec: round(count * size / seconds / 1e6),
    p50ms: round(percentile(latencies, 50), 2), p99ms: round(percentile(latencies, 99), 2), errors: 0,
  }
}
