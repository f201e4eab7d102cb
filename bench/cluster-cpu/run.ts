/**
 * bench/cluster-cpu: what a mesh member costs in CPU. Ten real `s3mesh
 * server` processes (the built CLI, LAN preset, two replicas) joined in one
 * cluster; each process's CPU time is read from /proc over
 *   quiet — 20 s with no requests: probes, gossip, push-pull, anti-entropy
 *   busy  — 20 s of 4 KiB PUTs at a fixed rate (40 a second, spread over the
 *           nodes round-robin): announcements, replication, journals
 * beside, in the same run, ten raw gossipsub processes (the same libp2p
 * stack, nothing else) idle and then publishing one 1 KiB message per PUT at
 * the same rate. Repeated (3 runs by default); figures are the median of the
 * runs and their range. JSON (kept in bench/results/cluster-cpu.json), then a
 * one-line summary.
 *
 *   npm run bench:cluster-cpu
 *   npm run bench:cluster-cpu -- --quick
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { cpuOver } from '../lib/cpu-over.js'
import { benchOptions, keep } from '../lib/keep.js'
import { alive } from '../lib/mesh-load.js'
import { median, showSpread, spread } from '../lib/stats.js'

const options = benchOptions(3)
const N = options.quick ? 4 : 10
const PHASE_MS = options.quick ? 5_000 : 20_000
const RATE = 40
const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Calls `op(i)` RATE times a second until aborted; resolves with how many ran, after they settle. */
async function atRate (signal: AbortSignal, op: (i: number) => Promise<void>): Promise<number> {
  const running: Array<Promise<void>> = []
  const start = performance.now()
  for (let i = 0; !signal.aborted; i++) {
    const due = start + i * 1000 / RATE
    if (due > performance.now()) await sleep(due - performance.now())
    if (signal.aborted) break
    running.push(op(i))
  }
  await Promise.all(running)
  return running.length
}

async function meshRun (): Promise<{ quiet: number[], busy: number[], puts: number }> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const args = ['--replicas', '2', '--no-console']
  const nodes: ServerProcess[] = [await startServerProcess({ env, args })]
  try {
    for (let i = 1; i < N; i += 3) {
      nodes.push(...await Promise.all(Array.from({ length: Math.min(3, N - i) }, async () => await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))))
    }
    await alive(nodes, 60_000)
    if ((await sign.fetch(`${nodes[0]!.url}/cpu`, { method: 'PUT' })).status !== 200) throw new Error('could not create the bucket')
    // Settle: the joins' push-pulls and anti-entropy rounds are not the quiet state.
    await sleep(5_000)
    const pids = nodes.map(n => n.child.pid!)
    const quiet = await cpuOver(pids, PHASE_MS)
    const body = randomBytes(4096)
    let puts = 0
    const busy = await cpuOver(pids, PHASE_MS, async signal => {
      puts = await atRate(signal, async i => {
        const res = await sign.fetch(`${nodes[i % N]!.url}/cpu/k-${i}`, { method: 'PUT', body })
        if (res.status !== 200) throw new Error(`PUT answered ${res.status}`)
      })
    })
    return { quiet, busy, puts }
  } finally {
    await Promise.all(nodes.map(async n => await n.stop()))
  }
}

async function rawRun (): Promise<{ quiet: number[], busy: number[], messages: number }> {
  const script = fileURLToPath(new URL('../mesh-convergence-processes/raw-peer.ts', import.meta.url))
  const peers: Array<{ child: ChildProcess, addr: string }> = []
  const start = async (dial: string[]): Promise<void> => {
    // Quiet: a peer that printed a line per message would spend CPU no node spends.
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...dial], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, RAW_PEER_QUIET: '1' } })
    const rl = createInterface({ input: child.stdout! })
    const addr = await new Promise<string>((resolve, reject) => {
      rl.once('line', line => { if (line.startsWith('addr ')) resolve(line.slice(5)); else reject(new Error(line)) })
      child.once('exit', code => { reject(new Error(`raw peer exited (${code})`)) })
    })
    peers.push({ child, addr })
  }
  try {
    await start([])
    for (let i = 1; i < N; i++) await start([peers[0]!.addr, ...(i > 1 ? [peers[i - 1]!.addr] : [])])
    // Gossipsub builds its topic mesh over a few heartbeats; then settle as the nodes do.
    await sleep(10_000)
    const pids = peers.map(p => p.child.pid!)
    const quiet = await cpuOver(pids, PHASE_MS)
    let messages = 0
    const busy = await cpuOver(pids, PHASE_MS, async signal => {
      messages = await atRate(signal, async i => { peers[i % N]!.child.stdin!.write(`pub m${i}\n`) })
    })
    return { quiet, busy, messages }
  } finally {
    for (const p of peers) p.child.stdin!.end()
  }
}

const runs: Array<{ mesh: Awaited<ReturnType<typeof meshRun>>, raw: Awaited<ReturnType<typeof rawRun>> }> = []
for (let r = 0; r < options.runs; r++) {
  process.stderr.write(`cluster-cpu: run ${r + 1} of ${options.runs}: ${N} s3mesh nodes\n`)
  const mesh = await meshRun()
  process.stderr.write(`cluster-cpu: run ${r + 1} of ${options.runs}: ${N} raw gossipsub peers\n`)
  runs.push({ mesh, raw: await rawRun() })
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
const result = {
  nodes: N, phaseMs: PHASE_MS, putsPerSecond: RATE, putBytes: 4096,
  /** CPU ms per second of a node (the median node of a run), quiet and busy; the same for a raw gossipsub peer. */
  meshQuietMsPerS: spread(runs.map(r => median(r.mesh.quiet)), 1),
  meshBusyMsPerS: spread(runs.map(r => median(r.mesh.busy)), 1),
  rawQuietMsPerS: spread(runs.map(r => median(r.raw.quiet)), 1),
  rawBusyMsPerS: spread(runs.map(r => median(r.raw.busy)), 1),
  /** The whole cluster's CPU beyond its quiet cost, per PUT (per message for raw gossipsub), ms. */
  meshMsPerPut: spread(runs.map(r => (sum(r.mesh.busy) - sum(r.mesh.quiet)) * PHASE_MS / 1000 / r.mesh.puts)),
  rawMsPerMessage: spread(runs.map(r => (sum(r.raw.busy) - sum(r.raw.quiet)) * PHASE_MS / 1000 / r.raw.messages)),
  runs,
}
await keep('cluster-cpu', options, result,
  `${N} nodes, CPU ms/s per node (median node): quiet ${showSpread(result.meshQuietMsPerS)} vs raw gossipsub ${showSpread(result.rawQuietMsPerS)}; ` +
  `${RATE} PUT/s ${showSpread(result.meshBusyMsPerS)} vs raw ${showSpread(result.rawBusyMsPerS)}; cluster CPU per PUT ${showSpread(result.meshMsPerPut)} ms vs per raw message ${showSpread(result.rawMsPerMessage)} ms (median and range of ${options.runs} runs)`)
process.exit(0)
