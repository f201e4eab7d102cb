/** CPU time of benchmark processes over a stretch of time, from /proc. */
import { cpuMs } from '../s3-http/targets.js'

/** CPU ms per second of each process in `pids` over `ms`, while `during` runs (aborted at the end, and awaited). */
export async function cpuOver (pids: number[], ms: number, during: (signal: AbortSignal) => Promise<void> = async () => {}): Promise<number[]> {
  const before = await Promise.all(pids.map(cpuMs))
  const start = performance.now()
  const stop = new AbortController()
  const work = during(stop.signal)
  await new Promise(resolve => setTimeout(resolve, ms))
  stop.abort()
  await work
  const seconds = (performance.now() - start) / 1000
  const after = await Promise.all(pids.map(cpuMs))
  return pids.map((_, i) => (after[i]!.user + after[i]!.system - before[i]!.user - before[i]!.system) / seconds)
}
