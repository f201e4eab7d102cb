/**
 * bench/membership-real: 10 real `s3mesh server` processes on loopback (LAN
 * preset). Measures kill -9 detection (until every survivor reports the node
 * failed; p50/p99 over repeated kills), leave propagation (SIGTERM until every
 * other node reports it left), and membership bytes per node per second in a
 * quiet cluster, beside what the LAN formulas predict. JSON (kept in
 * bench/results/membership-real.json), then a summary.
 *
 *   npm run bench:membership-real            # 10 nodes, 6 kills, 3 leaves
 *   npm run bench:membership-real -- 2       # 2 kills (printed, not kept)
 */
import { randomBytes } from 'node:crypto'
import { s3Signer } from '../../src/core/s3-signer.js'
import { LAN } from '../../src/core/membership/config.js'
import { suspicionTimeout } from '../../src/core/membership/suspicion.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchArgs, benchOptions, keep } from '../lib/keep.js'
import { percentile, round } from '../lib/stats.js'

const N = 10
const options = benchOptions(1)
const KILLS = Number(benchArgs()[0] ?? 6)
// Only the full number of kills is kept.
if (KILLS !== 6) options.save = false
const LEAVES = 3
/** Seconds after every node is alive everywhere before bytes are counted (the join's news has stopped being retransmitted). */
const SETTLE_SECONDS = 10
/** Seconds of quiet counted: two push-pull periods (LAN preset, 30 s). */
const QUIET_SECONDS = 2 * LAN.pushPullIntervalMs / 1000
const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })

async function view (node: ServerProcess): Promise<Map<string, string>> {
  const res = await sign.fetch(`${node.url}/_s3mesh/v1/members`)
  const { members } = await res.json() as { members: Array<{ id: string, state: string, self?: true }> }
  return new Map(members.map(m => [m.id, m.state]))
}

async function selfId (node: ServerProcess): Promise<string> {
  const res = await sign.fetch(`${node.url}/_s3mesh/v1/members`)
  return ((await res.json()) as { members: Array<{ id: string, self?: true }> }).members.find(m => m.self === true)!.id
}

/** Polls every 50 ms until every observer reports `state` for `id`; returns the time taken. */
async function waitAll (observers: ServerProcess[], id: string, state: string, limitMs: number): Promise<number> {
  const start = performance.now()
  for (;;) {
    const views = await Promise.all(observers.map(view))
    if (views.every(v => v.get(id) === state)) return performance.now() - start
    if (performance.now() - start > limitMs) throw new Error(`not every node reported ${id} ${state} within ${limitMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function sentBytes (node: ServerProcess): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  return Number(/^s3mesh_membership_sent_bytes_total (\d+)/m.exec(text)?.[1] ?? NaN)
}

const nodes: ServerProcess[] = []
try {
  const seed = await startServerProcess({ env })
  nodes.push(seed)
  nodes.push(...await Promise.all(Array.from({ length: N - 1 }, async () => await startServerProcess({ env, args: ['--join', seed.meshAddress!] }))))
  const ids = await Promise.all(nodes.map(selfId))
  for (const id of ids) await waitAll(nodes, id, 'alive', 30_000)
  process.stderr.write(`membership-real: ${N} nodes alive everywhere\n`)

  // Quiet cluster: membership bytes per node per second. The join's news is
  // retransmitted for a few seconds first, and each node pushes and pulls
  // every member's state once per 30 s (staggered), so the window starts
  // after the join has settled and spans two whole push-pull periods: a
  // shorter one counted a varying share of push-pulls (406-512 bytes/s).
  await new Promise(resolve => setTimeout(resolve, SETTLE_SECONDS * 1000))
  const before = await Promise.all(nodes.map(sentBytes))
  const quietSeconds = QUIET_SECONDS
  await new Promise(resolve => setTimeout(resolve, quietSeconds * 1000))
  const after = await Promise.all(nodes.map(sentBytes))
  const bytesPerNodePerSecond = after.reduce((s, b, i) => s + b - before[i]!, 0) / N / quietSeconds

  const detections: number[] = []
  for (let k = 0; k < KILLS; k++) {
    const i = 1 + (k % (N - 1))
    const victim = nodes[i]!
    await victim.stop({ remove: false, signal: 'SIGKILL' })
    const survivors = nodes.filter(n => n !== victim)
    detections.push(await waitAll(survivors, ids[i]!, 'failed', 60_000))
    nodes[i] = await startServerProcess({ dataDir: victim.dataDir, env, args: ['--join', seed.meshAddress!] })
    await waitAll(nodes, ids[i]!, 'alive', 30_000)
    process.stderr.write(`membership-real: kill ${k + 1}/${KILLS} detected everywhere in ${Math.round(detections.at(-1)!)} ms\n`)
  }

  const leaves: number[] = []
  for (let k = 0; k < LEAVES; k++) {
    const i = N - 1 - k
    const leaver = nodes[i]!
    const stopped = leaver.stop({ remove: false })
    leaves.push(await waitAll(nodes.filter(n => n !== leaver), ids[i]!, 'left', 20_000))
    await stopped
    nodes[i] = await startServerProcess({ dataDir: leaver.dataDir, env, args: ['--join', seed.meshAddress!] })
    await waitAll(nodes, ids[i]!, 'alive', 30_000)
  }

  const min = suspicionTimeout(LAN.suspicionMult, N, LAN.probeIntervalMs)
  const result = {
    preset: 'LAN', nodes: N,
    killDetectionMs: { p50: round(percentile(detections, 50)), p99: round(percentile(detections, 99)), all: detections.map(d => round(d)) },
    leavePropagationMs: { p50: round(percentile(leaves, 50)), max: round(Math.max(...leaves)), all: leaves.map(d => round(d)) },
    bytesPerNodePerSecond: round(bytesPerNodePerSecond),
    quietWindowSeconds: QUIET_SECONDS,
    predicted: {
      // A failed node is first probed after e/(e-1) probe intervals on average (SWIM), then suspected
      // for between the minimum (after SuspicionMult-2 confirmations) and 6x that.
      detectionMs: { low: round(LAN.probeIntervalMs * Math.E / (Math.E - 1) + min), high: round(LAN.probeIntervalMs * N + LAN.suspicionMaxTimeoutMult * min) },
      suspicionMinMs: min,
    },
  }
  await keep('membership-real', options, result, `${N} nodes, kill -9 detected everywhere p50 ${result.killDetectionMs.p50} ms p99 ${result.killDetectionMs.p99} ms (LAN predicts ${result.predicted.detectionMs.low}-${result.predicted.detectionMs.high} ms); leave everywhere p50 ${result.leavePropagationMs.p50} ms; ${result.bytesPerNodePerSecond} membership bytes/node/s`)
} finally {
  for (const n of nodes) await n.stop().catch(() => {})
}
