/**
 * bench/mesh-convergence-processes: N real `s3mesh server` processes (the
 * built CLI, two replicas, local membership preset). For each round a node
 * gets a signed 1 KiB PUT; every other node has a blocking locate request
 * (`GET /_s3mesh/v1/locate/<b>/<k>?wait=`) waiting, which answers the moment
 * its catalog lists the object. Reported: from the start of the PUT until
 * the last node lists it (a write is announced before its replica is made,
 * so "after the acknowledgement" would be 0 by construction). Beside it, in
 * the same run, N raw gossipsub processes (same libp2p stack, nothing else):
 * from the publish call of 1 KiB until the last peer delivered it. p50/p99
 * per N and their ratios. JSON (kept in
 * bench/results/mesh-convergence-processes.json), then a one-line summary.
 * Goal: p99 within 2x of raw gossipsub.
 *
 *   npm run bench:mesh-convergence-processes            # N = 5, 10, 20; 40 rounds each
 *   npm run bench:mesh-convergence-processes -- 5 --quick
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { s3Signer } from '../../src/core/s3-signer.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../../test/helpers/server-process.js'
import { benchArgs, benchOptions, keep } from '../lib/keep.js'
import { percentile, round } from '../lib/stats.js'

const options = benchOptions(1)
const quick = options.quick
const asked = benchArgs().map(Number).filter(n => n > 1)
// Only the full set of sizes is kept.
if (asked.length > 0) options.save = false
const sizes = asked.length > 0 ? asked : [5, 10, 20]
const ROUNDS = quick ? 10 : 40
const now = (): number => performance.timeOrigin + performance.now()
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const sign = s3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })

interface Percentiles { p50: number, p99: number }
const p = (xs: number[]): Percentiles => ({ p50: round(percentile(xs, 50), 2), p99: round(percentile(xs, 99), 2) })

async function startCluster (n: number): Promise<ServerProcess[]> {
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const args = ['--membership', 'local', '--replicas', '2', '--no-console']
  const nodes = [await startServerProcess({ env, args })]
  // Started a few at a time: twenty processes loading at once on two cores time out.
  for (let i = 1; i < n; i += 4) {
    nodes.push(...await Promise.all(Array.from({ length: Math.min(4, n - i) }, async () => await startServerProcess({ env, args: [...args, '--join', nodes[0]!.meshAddress!] }))))
  }
  const end = Date.now() + 60_000
  for (;;) {
    const views = await Promise.all(nodes.map(async node => ((await (await sign.fetch(`${node.url}/_s3mesh/v1/members`)).json()) as { members: Array<{ state: string }> }).members.filter(m => m.state === 'alive').length))
    if (views.every(v => v === n)) return nodes
    if (Date.now() > end) throw new Error(`the ${n}-node cluster did not form: ${views.join(',')}`)
    await sleep(250)
  }
}

async function meshRounds (nodes: ServerProcess[]): Promise<{ fromStart: number[], ack: number[], missed: number }> {
  let missed = 0
  const fromStart: number[] = []
  const ack: number[] = []
  if ((await sign.fetch(`${nodes[0]!.url}/conv`, { method: 'PUT' })).status !== 200) throw new Error('could not create the bucket')
  await Promise.all(nodes.map(async n => await sign.fetch(`${n.url}/_s3mesh/v1/locate/conv?wait=10000`)))
  for (let r = 0; r < ROUNDS + 2; r++) {
    const writer = nodes[r % nodes.length]!
    const key = `k-${r}-${randomBytes(4).toString('hex')}`
    const listed = nodes.filter(n => n !== writer).map(async n => {
      const res = await sign.fetch(`${n.url}/_s3mesh/v1/locate/conv/${key}?wait=20000`)
      const t = now()
      // Not listed within 20 s (gossip missed it; anti-entropy had not run yet): counted, not timed.
      return res.status === 200 ? t : NaN
    })
    // The blocking requests must be waiting before the write starts.
    await sleep(30)
    const t0 = now()
    const put = await sign.fetch(`${writer.url}/conv/${key}`, { method: 'PUT', body: randomBytes(1024) })
    const tAck = now()
    if (put.status !== 200) throw new Error(`PUT answered ${put.status}`)
    const last = Math.max(...await Promise.all(listed))
    if (r < 2) continue // warm-up
    if (Number.isNaN(last)) { missed++; continue }
    fromStart.push(last - t0)
    ack.push(tAck - t0)
  }
  return { fromStart, ack, missed }
}

interface RawPeer { child: ChildProcess, addr: string }

async function rawPeer (dial: string[], onLine: (line: string) => void): Promise<RawPeer> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('raw-peer.ts', import.meta.url)), ...dial], { stdio: ['pipe', 'pipe', 'inherit'] })
  const rl = createInterface({ input: child.stdout! })
  const addr = await new Promise<string>((resolve, reject) => {
    rl.once('line', line => { if (line.startsWith('addr ')) resolve(line.slice(5)); else reject(new Error(line)) })
    child.once('exit', code => { reject(new Error(`raw peer exited (${code})`)) })
  })
  rl.on('line', onLine)
  return { child, addr }
}

async function rawRounds (n: number): Promise<number[]> {
  const sent = new Map<string, number>()
  const received = new Map<string, number[]>()
  const onLine = (line: string): void => {
    const [op, id, t] = line.split(' ')
    if (op === 'sent') sent.set(id!, Number(t))
    if (op === 'recv') received.set(id!, [...(received.get(id!) ?? []), Number(t)])
  }
  const peers = [await rawPeer([], onLine)]
  for (let i = 1; i < n; i++) peers.push(await rawPeer([peers[0]!.addr, ...(i > 1 ? [peers[i - 1]!.addr] : [])], onLine))
  // Gossipsub builds its topic mesh over a few heartbeats (1 s each).
  await sleep(5000)
  const out: number[] = []
  try {
    for (let r = 0; r < ROUNDS + 2; r++) {
      const id = `m${r}`
      peers[r % n]!.child.stdin!.write(`pub ${id}\n`)
      const end = Date.now() + 10_000
      while ((received.get(id)?.length ?? 0) < n - 1 || !sent.has(id)) {
        if (Date.now() > end) throw new Error(`raw gossipsub: ${received.get(id)?.length ?? 0} of ${n - 1} peers got ${id}`)
        await sleep(5)
      }
      if (r >= 2) out.push(Math.max(...received.get(id)!) - sent.get(id)!)
      await sleep(30)
    }
  } finally {
    for (const peer of peers) peer.child.stdin!.end()
  }
  return out
}

const rows = []
for (const n of sizes) {
  process.stderr.write(`mesh-convergence-processes: N=${n}, s3mesh\n`)
  const nodes = await startCluster(n)
  let mesh
  try {
    mesh = await meshRounds(nodes)
  } finally {
    await Promise.all(nodes.map(async node => await node.stop()))
  }
  process.stderr.write(`mesh-convergence-processes: N=${n}, raw gossipsub\n`)
  const raw = await rawRounds(n)
  rows.push({
    n, rounds: ROUNDS, missedRounds: mesh.missed,
    /** From the start of the PUT until every other node lists the object. */
    listedMs: p(mesh.fromStart),
    ackMs: p(mesh.ack),
    /** From the publish call until every other peer delivered the message. */
    rawGossipsubMs: p(raw),
    p99Ratio: round(percentile(mesh.fromStart, 99) / percentile(raw, 99), 2),
    p50Ratio: round(percentile(mesh.fromStart, 50) / percentile(raw, 50), 2),
  })
}

await keep('mesh-convergence-processes', options, { objectBytes: 1024, rawMessageBytes: 1024, rows: Object.fromEntries(rows.map(r => [`n${r.n}`, r])) },
  rows.map(r => `N=${r.n} listed everywhere p99 ${r.listedMs.p99} ms from the PUT's start (ack p99 ${r.ackMs.p99} ms); raw gossipsub p99 ${r.rawGossipsubMs.p99} ms: ${r.p99Ratio}x${r.missedRounds > 0 ? `, ${r.missedRounds} rounds not listed everywhere within 20 s` : ''}`).join('; ') + ' - goal: p99 within 2x of raw gossipsub')
process.exit(0)
