/**
 * bench/mesh-transfer: a remote GET node-to-node over the transfer protocol
 * against a raw libp2p stream pushing the same bytes, in the same chunks, on
 * the same connection (two libp2p nodes in this process: TCP on loopback,
 * Noise, yamux). Three readings per size:
 *   raw       — a bare stream: send + drain on one side, count bytes on the other
 *   transfer  — TransferService.get, bytes read from its ReadableStream: what a
 *               remote GET does, SHA-256 verification included
 * JSON, then a one-line summary. Goal: transfer at least 80% of raw.
 *
 *   npm run bench:mesh-transfer             # 1 MiB x 200 and 256 MiB x 3
 *   npm run bench:mesh-transfer -- --quick
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Stream } from '@libp2p/interface'
import { Keyring } from '../../src/core/membership/keyring.js'
import { MemoryStore } from '../../src/core/memory-store.js'
import { streamOfBytes } from '../../src/core/streams.js'
import { startInProcessNode } from '../../test/helpers/in-process-mesh.js'
import { percentile, round } from '../lib/stats.js'

const quick = process.argv.includes('--quick')
const RAW_PROTOCOL = '/s3mesh-bench/raw/1.0.0'
const CHUNK = 256 * 1024
const cases = [
  { name: '1MiB', size: 1024 * 1024, runs: quick ? 30 : 200 },
  { name: '256MiB', size: 256 * 1024 * 1024, runs: quick ? 2 : 3 },
]

const key = Keyring.generateKey()
const store = new MemoryStore()
const holder = await startInProcessNode({ key, store })
const reader = await startInProcessNode({ key })
const holderId = holder.libp2p.peerId.toString()
await reader.libp2p.dial(holder.libp2p.getMultiaddrs()[0]!)

// The raw baseline: the holder writes `size` bytes of the object in CHUNK pieces, honouring drain.
const objects = new Map<number, Uint8Array>()
await holder.libp2p.handle(RAW_PROTOCOL, (stream: Stream) => {
  void (async () => {
    const size = await new Promise<number>(resolve => { stream.addEventListener('message', e => { resolve(Number(new TextDecoder().decode(e.data.subarray()))) }, { once: true }) })
    const bytes = objects.get(size)!
    for (let i = 0; i < bytes.byteLength; i += CHUNK) {
      if (!stream.send(bytes.subarray(i, i + CHUNK))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
  })()
})

async function raw (size: number): Promise<void> {
  const stream = await reader.libp2p.dialProtocol(holder.libp2p.peerId, RAW_PROTOCOL)
  let got = 0
  const done = new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', e => { got += e.data.byteLength; if (got >= size) resolve() })
    stream.addEventListener('close', e => { if (got >= size) resolve(); else reject(e.error ?? new Error(`closed after ${got} bytes`)) })
  })
  stream.send(new TextEncoder().encode(String(size)))
  await done
  await stream.close().catch(() => {})
}

async function transfer (size: number, sha256: string): Promise<void> {
  const body = await reader.mesh.transfer.get(holderId, { bucket: 'bench', key: `obj-${size}`, sha256, size }, AbortSignal.timeout(120_000))
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

const rows: Array<{ case: string, raw: Reading, transfer: Reading, transferRatio: number }> = []
await store.createBucket('bench')
for (const c of cases) {
  process.stderr.write(`mesh-transfer: ${c.name}\n`)
  const bytes = randomBytes(c.size)
  objects.set(c.size, bytes)
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  await store.putObject('bench', `obj-${c.size}`, streamOfBytes(bytes), { metadata: { user: {} }, size: c.size })
  const [r, t] = await measure(c.runs, c.size, async () => { await raw(c.size) }, async () => { await transfer(c.size, sha256) })
  rows.push({ case: c.name, raw: r, transfer: t, transferRatio: round(t.mbps / r.mbps, 2) })
}
await reader.stop()
await holder.stop()

process.stdout.write(JSON.stringify({ bench: 'mesh-transfer', date: new Date().toISOString(), node: process.version, chunkBytes: CHUNK, rows }, null, 2) + '\n')
process.stdout.write('mesh-transfer: ' + rows.map(r => `${r.case} raw ${r.raw.mbps} MB/s, transfer (verified) ${r.transfer.mbps} MB/s = ${Math.round(r.transferRatio * 100)}% of raw`).join('; ') + ' — goal: >= 80% of raw\n')
process.exit(0)
