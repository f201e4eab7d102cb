/**
 * bench/mesh-transfer: a remote GET node-to-node over the transfer protocol
 * against a raw libp2p stream pushing the same bytes, in the same chunks, on
 * the same connection (TCP on loopback, Noise, yamux), with the holder in its
 * own process (as two nodes are) and, for comparison, in this one; then two
 * processes again with both on @libp2p/tcp as it ships, the baseline of the
 * corked TCP members use (src/node/corked-tcp.ts), the raw and the verified
 * transfer each compared with their stock twin within a run. Per size:
 *   raw       — a bare stream, kept open across requests as the transfer keeps
 *               its own: send + drain on one side, count bytes on the other
 *   transfer  — TransferService.get, bytes read from its ReadableStream: what a
 *               remote GET does, SHA-256 verification included
 *   sha256    — hashing the same bytes in the same pieces, in this process: the
 *               verification's own cost, which raw does not pay; `bound` is the
 *               ratio transfer would reach if it cost raw + hashing and nothing more
 * The whole measurement is repeated (3 runs by default); figures are the
 * median of the runs and their range. JSON (kept in
 * bench/results/mesh-transfer.json), then a one-line summary. Goal: transfer
 * at least 85% of raw. Both processes run with a node's V8 flags
 * (bin/v8-flags.js), as members do.
 *
 *   npm run bench:mesh-transfer             # 1 MiB x 200 and 256 MiB x 3, per run
 *   npm run bench:mesh-transfer -- --quick
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { Keyring } from '../../src/core/wire/keyring.js'
import { nodeHashes } from '../../src/node/node-hashes.js'
import { startInProcessNode, type InProcessNode } from '../../test/helpers/in-process-mesh.js'
import { benchOptions, keep } from '../lib/keep.js'
import { runAsNode } from '../lib/node-flags.js'
import { percentile, round, showSpread, spread } from '../lib/stats.js'
import { CHUNK, RAW_PROTOCOL, startHolder, type Holder } from './holder.js'

const v8Flags = runAsNode()
const options = benchOptions(3)
const quick = options.quick
const cases = [
  { name: '1MiB', size: 1024 * 1024, runs: quick ? 30 : 200 },
  { name: '256MiB', size: 256 * 1024 * 1024, runs: quick ? 2 : 3 },
]

/** The holder in its own process, as two nodes are; it exits when our stdin to it closes. */
async function holderProcess (key: Uint8Array, stockTcp: boolean): Promise<Holder & { stop: () => void }> {
  const child = spawn(process.execPath, [...v8Flags, '--import', 'tsx', fileURLToPath(new URL('holder.ts', import.meta.url)), ...cases.map(c => String(c.size))], {
    env: { ...process.env, S3MESH_BENCH_KEY: Buffer.from(key).toString('base64'), S3MESH_BENCH_STOCK_TCP: stockTcp ? '1' : '0' }, stdio: ['pipe', 'pipe', 'inherit'],
  })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(out.split('\n')[0]!) })
    child.once('exit', code => { reject(new Error(`holder exited (${code})`)) })
  })
  return { ...JSON.parse(line) as Holder, stop: () => { child.stdin!.end(); child.kill() } }
}

let reader: InProcessNode
let holder: Holder

/** The raw baseline's stream, opened once per reader and kept, as the transfer keeps the stream its last fetch used. */
interface RawStream { ask: (size: number) => Promise<void>, close: () => Promise<void> }
let rawStream: RawStream | undefined

async function openRaw (): Promise<RawStream> {
  const stream = await reader.libp2p.dialProtocol(peerIdFromString(holder.peer), RAW_PROTOCOL)
  let want = 0
  let got = 0
  let pending: { resolve: () => void, reject: (err: Error) => void } | undefined
  stream.addEventListener('message', e => {
    got += e.data.byteLength
    if (got >= want) pending?.resolve()
  })
  stream.addEventListener('close', e => { pending?.reject(e.error ?? new Error(`closed after ${got} bytes`)) })
  return {
    ask: async size => {
      want = size
      got = 0
      const timer = AbortSignal.timeout(120_000)
      await new Promise<void>((resolve, reject) => {
        const onTimeout = (): void => { reject(new Error(`raw: ${got} of ${size} bytes in 120 s`)) }
        timer.addEventListener('abort', onTimeout, { once: true })
        pending = {
          resolve: () => { timer.removeEventListener('abort', onTimeout); resolve() },
          reject: err => { timer.removeEventListener('abort', onTimeout); reject(err) },
        }
        const ask = new Uint8Array(4)
        new DataView(ask.buffer).setUint32(0, size)
        stream.send(ask)
      })
      pending = undefined
      if (got !== size) throw new Error(`raw: got ${got} of ${size} bytes`)
    },
    close: async () => { pending = undefined; await stream.close().catch(() => {}) },
  }
}

async function raw (size: number): Promise<void> {
  rawStream ??= await openRaw()
  await rawStream.ask(size)
}

async function transfer (size: number): Promise<void> {
  const body = await reader.mesh.transfer.get(holder.peer, { bucket: 'bench', key: `obj-${size}`, sha256: holder.sha256[size]!, size }, AbortSignal.timeout(120_000))
  const r = body.getReader()
  let got = 0
  for (;;) {
    const { done, value } = await r.read()
    if (done) break
    got += value.byteLength
  }
  if (got !== size) throw new Error(`got ${got} of ${size} bytes`)
}

interface Reading { mbps: number, p50ms: number, p99ms: number }

function reading (times: number[], size: number): Reading {
  const seconds = times.reduce((a, b) => a + b, 0) / 1000
  return { mbps: round(size * times.length / seconds / 1e6), p50ms: round(percentile(times, 50), 2), p99ms: round(percentile(times, 99), 2) }
}

/** Runs the two alternately, so that drift in the machine's state (GC, caches) hits both alike. */
async function measure (runs: number, size: number, a: () => Promise<void>, b: () => Promise<void>): Promise<[Reading, Reading]> {
  await a()
  await b() // warm up the connection, the JIT and yamux's window
  const ta: number[] = []
  const tb: number[] = []
  for (let i = 0; i < runs; i++) {
    let t = performance.now()
    await a()
    ta.push(performance.now() - t)
    t = performance.now()
    await b()
    tb.push(performance.now() - t)
  }
  return [reading(ta, size), reading(tb, size)]
}

/** Milliseconds to SHA-256 `size` bytes in CHUNK pieces, as the reader does (median of 5). */
function hashMs (size: number): number {
  const bytes = randomBytes(size)
  const times: number[] = []
  for (let i = 0; i < 5; i++) {
    const t = performance.now()
    const h = nodeHashes.create('sha256')
    for (let at = 0; at < size; at += CHUNK) h.update(bytes.subarray(at, at + CHUNK))
    h.digest()
    times.push(performance.now() - t)
  }
  return percentile(times, 50)
}

type Setup = 'twoProcesses' | 'oneProcess' | 'twoProcessesStockTcp'
// The last: both members on @libp2p/tcp as it ships, where members use corkedTcp (src/node/corked-tcp.ts).
const setups: Setup[] = ['twoProcesses', 'oneProcess', 'twoProcessesStockTcp']
interface Row { raw: Reading, transfer: Reading, sha256Ms: number, ratio: number, bound: number }
const runs: Array<Record<Setup, Record<string, Row>>> = []
for (let run = 0; run < options.runs; run++) {
  const rows = {} as Record<Setup, Record<string, Row>>
  // Every other run goes the other way round, so that the machine drifting over a run favours no setup.
  for (const setup of run % 2 === 0 ? setups : [...setups].reverse()) {
    rows[setup] = {}
    const key = Keyring.generateKey()
    const stockTcp = setup === 'twoProcessesStockTcp'
    const child = setup === 'oneProcess' ? undefined : await holderProcess(key, stockTcp)
    holder = child ?? await startHolder(key, cases.map(c => c.size))
    reader = await startInProcessNode({ key, stockTcp })
    await reader.libp2p.dial(multiaddr(holder.addr))
    for (const c of cases) {
      process.stderr.write(`mesh-transfer: run ${run + 1} of ${options.runs}, ${setup}, ${c.name}\n`)
      const [r, t] = await measure(c.runs, c.size, async () => { await raw(c.size) }, async () => { await transfer(c.size) })
      const rawMs = c.size / r.mbps / 1e3
      const sha256Ms = hashMs(c.size)
      rows[setup][c.name] = { raw: r, transfer: t, sha256Ms: round(sha256Ms, 1), ratio: round(t.mbps / r.mbps, 3), bound: round(rawMs / (rawMs + sha256Ms), 3) }
    }
    await rawStream?.close()
    rawStream = undefined
    await reader.stop()
    child?.stop()
    await holder.node?.stop()
  }
  runs.push(rows)
}

const of = (setup: Setup, c: string, f: (r: Row) => number, digits = 2): ReturnType<typeof spread> => spread(runs.map(r => f(r[setup][c]!)), digits)
const transferResult = Object.fromEntries(setups.map(setup => [setup, Object.fromEntries(cases.map(c => [c.name, {
  rawMBps: of(setup, c.name, r => r.raw.mbps, 1),
  transferMBps: of(setup, c.name, r => r.transfer.mbps, 1),
  /** Verified transfer over raw, on the same connection. */
  ratio: of(setup, c.name, r => r.ratio),
  /** What the ratio would be if the transfer cost raw plus SHA-256 and nothing more. */
  bound: of(setup, c.name, r => r.bound),
  /** The ratio over that bound. */
  ofBound: of(setup, c.name, r => r.ratio / r.bound),
  sha256Ms: of(setup, c.name, r => r.sha256Ms, 1),
}]))]))
/** Corked TCP over stock TCP, two processes, ratios within each run: raw stream and verified transfer alike. */
const corkedOverStock = Object.fromEntries(cases.map(c => [c.name, {
  raw: spread(runs.map(r => r.twoProcesses[c.name]!.raw.mbps / r.twoProcessesStockTcp[c.name]!.raw.mbps)),
  transfer: spread(runs.map(r => r.twoProcesses[c.name]!.transfer.mbps / r.twoProcessesStockTcp[c.name]!.transfer.mbps)),
}]))
const label = { twoProcesses: 'two processes', oneProcess: 'one process', twoProcessesStockTcp: 'two processes on stock @libp2p/tcp' }
await keep('mesh-transfer', options, { cases, v8Flags, transfer: transferResult, corkedOverStock, runs },
  setups.flatMap(setup => cases.map(c => {
    const t = transferResult[setup]![c.name]!
    return `${label[setup]} ${c.name}: raw ${showSpread(t.rawMBps)} MB/s, transfer (verified) ${showSpread(t.transferMBps)} MB/s = ${showSpread(t.ratio, 'x')} of raw (raw + SHA-256 alone: ${showSpread(t.bound, 'x')})`
  })).join('; ') + `; corked TCP over stock, two processes: ${cases.map(c => `${c.name} raw ${showSpread(corkedOverStock[c.name]!.raw, 'x')}, transfer ${showSpread(corkedOverStock[c.name]!.transfer, 'x')}`).join(', ')} (median and range of ${options.runs} runs) - goal: >= 0.85x of raw`)
process.exit(0)
