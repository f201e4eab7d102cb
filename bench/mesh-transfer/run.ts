/**
 * bench/mesh-transfer: a remote GET node-to-node over the transfer protocol
 * against a raw libp2p stream pushing the same bytes, in the same chunks, on
 * the same connection (TCP on loopback, Noise, yamux), with the holder in its
 * own process (as two nodes are) and, for comparison, in this one. Per size:
 *   raw       — a bare stream: send + drain on one side, count bytes on the other
 *   transfer  — TransferService.get, bytes read from its ReadableStream: what a
 *               remote GET does, SHA-256 verification included
 *   sha256    — hashing the same bytes in the same pieces, in this process: the
 *               verification's own cost, which raw does not pay; `bound` is the
 *               ratio transfer would reach if it cost raw + hashing and nothing more
 * JSON, then a one-line summary. Goal: transfer at least 80% of raw.
 *
 *   npm run bench:mesh-transfer             # 1 MiB x 200 and 256 MiB x 3
 *   npm run bench:mesh-transfer -- --quick
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { Keyring } from '../../src/core/membership/keyring.js'
import { nodeHashes } from '../../src/node/node-hashes.js'
import { startInProcessNode, type InProcessNode } from '../../test/helpers/in-process-mesh.js'
import { percentile, round } from '../lib/stats.js'
import { CHUNK, RAW_PROTOCOL, startHolder, type Holder } from './holder.js'

const quick = process.argv.includes('--quick')
const cases = [
  { name: '1MiB', size: 1024 * 1024, runs: quick ? 30 : 200 },
  { name: '256MiB', size: 256 * 1024 * 1024, runs: quick ? 2 : 3 },
]

/** The holder in its own process, as two nodes are; it exits when our stdin to it closes. */
async function holderProcess (key: Uint8Array): Promise<Holder & { stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('holder.ts', import.meta.url)), ...cases.map(c => String(c.size))], {
    env: { ...process.env, S3MESH_BENCH_KEY: Buffer.from(key).toString('base64') }, stdio: ['pipe', 'pipe', 'inherit'],
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

async function raw (size: number): Promise<void> {
  const stream = await reader.libp2p.dialProtocol(peerIdFromString(holder.peer), RAW_PROTOCOL)
  let got = 0
  const done = new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', e => { got += e.data.byteLength; if (got >= size) resolve() })
    stream.addEventListener('close', e => { if (got >= size) resolve(); else reject(e.error ?? new Error(`closed after ${got} bytes`)) })
  })
  stream.send(new TextEncoder().encode(String(size)))
  await done
  await stream.close().catch(() => {})
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

type Setup = 'two processes' | 'one process'
const rows: Array<{ setup: Setup, case: string, raw: Reading, transfer: Reading, sha256Ms: number, transferRatio: number, bound: number }> = []
for (const setup of ['two processes', 'one process'] as Setup[]) {
  const key = Keyring.generateKey()
  const child = setup === 'two processes' ? await holderProcess(key) : undefined
  holder = child ?? await startHolder(key, cases.map(c => c.size))
  reader = await startInProcessNode({ key })
  await reader.libp2p.dial(multiaddr(holder.addr))
  for (const c of cases) {
    process.stderr.write(`mesh-transfer: ${setup}, ${c.name}\n`)
    const [r, t] = await measure(c.runs, c.size, async () => { await raw(c.size) }, async () => { await transfer(c.size) })
    const rawMs = c.size / r.mbps / 1e3
    const sha256Ms = hashMs(c.size)
    rows.push({ setup, case: c.name, raw: r, transfer: t, sha256Ms: round(sha256Ms, 1), transferRatio: round(t.mbps / r.mbps, 2), bound: round(rawMs / (rawMs + sha256Ms), 2) })
  }
  await reader.stop()
  child?.stop()
  await holder.node?.stop()
}

process.stdout.write(JSON.stringify({ bench: 'mesh-transfer', date: new Date().toISOString(), node: process.version, rows }, null, 2) + '\n')
process.stdout.write('mesh-transfer: ' + rows.map(r => `${r.setup} ${r.case}: raw ${r.raw.mbps} MB/s, transfer (verified) ${r.transfer.mbps} MB/s = ${Math.round(r.transferRatio * 100)}% (raw + SHA-256 alone: ${Math.round(r.bound * 100)}%)`).join('; ') + ' — goal: >= 80% of raw\n')
process.exit(0)
