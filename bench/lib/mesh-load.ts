/** What the benchmarks that load a cluster of `s3mesh server` processes through the AWS SDK share. */
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, type ServerProcess } from '../../test/helpers/server-process.js'
import type { LoadResult } from '../s3-http/sdk-load.js'
import { percentile, round } from './stats.js'

/** Resolves once every node sees every node alive (within `withinMs`, 30 s unless told). */
export async function alive (nodes: ServerProcess[], withinMs = 30_000): Promise<void> {
  const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
  const end = Date.now() + withinMs
  for (;;) {
    const views = await Promise.all(nodes.map(async n => ((await (await sign.fetch(`${n.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length))
    if (views.every(v => v === nodes.length)) return
    if (Date.now() > end) throw new Error(`the cluster did not form (members alive as each node sees them: ${views.join(', ')})`)
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
