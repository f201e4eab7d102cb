/**
 * bench/edge: GET latency through the edge worker (the built bundle, in
 * workerd through miniflare) in front of a real `s3mesh server`, against GETs
 * straight to the node, same run:
 *   direct      — the client signs and GETs from the node (the baseline)
 *   miss        — through the worker with its cache off: every GET is the
 *                 worker checking the client's signature, signing again and
 *                 fetching from the node
 *   revalidate  — cache on, TTL 0: the worker holds the bytes and asks the node
 *                 only whether its ETag is still current (304, no body)
 *   hit         — cache on (the Cache API), TTL 60 s: the worker answers
 *                 without the node
 *   hit-memory  — the same from the isolate's memory instead of the Cache API
 * Objects of 1 KiB, 64 KiB and 1 MiB; sequential GETs, one client, taking the
 * cases in turn, the whole repeated (3 runs by default): figures are the
 * median of the runs' p50/p99 and their range. JSON (kept in
 * bench/results/edge.json), then a one-line summary with each case's p50
 * against direct.
 *
 *   npm run bench:edge
 *   npm run bench:edge -- --quick
 */
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Miniflare } from 'miniflare'
import { signer } from '../../test/helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { percentile, showSpread, spread, type Spread } from '../lib/stats.js'

const options = benchOptions(3)
const quick = options.quick
const RUNS = quick ? 50 : 300
const WARMUP = 20
const SIZES = { '1KiB': 1024, '64KiB': 64 * 1024, '1MiB': 1024 * 1024 }
const BUNDLE = fileURLToPath(new URL('../../dist/edge-bundle/s3mesh-edge.js', import.meta.url))

const node = await startServerProcess({ args: ['--replicas', '1'] })
const client = signer()
const workers: Miniflare[] = []

/** A worker in workerd with these cache settings; its URL. */
async function worker (cache: Record<string, string>): Promise<string> {
  const mf = new Miniflare({
    modules: true, scriptPath: BUNDLE, compatibilityDate: '2025-07-01', host: '127.0.0.1', port: 0,
    bindings: { S3MESH_NODES: node.url, S3MESH_ACCESS_KEY: ACCESS_KEY, S3MESH_SECRET_KEY: SECRET_KEY, ...cache },
  })
  workers.push(mf)
  return (await mf.ready).toString().replace(/\/$/, '')
}

/** One signed GET; its latency in ms. */
async function get (endpoint: string, key: string, size: number): Promise<number> {
  const t = performance.now()
  const res = await client.fetch(`${endpoint}/bench/${key}`)
  const bytes = (await res.arrayBuffer()).byteLength
  if (res.status !== 200 || bytes !== size) throw new Error(`GET ${endpoint}/bench/${key}: ${res.status}, ${bytes} bytes`)
  return performance.now() - t
}

try {
  if ((await client.fetch(`${node.url}/bench`, { method: 'PUT' })).status !== 200) throw new Error('cannot create the bucket')
  for (const [name, size] of Object.entries(SIZES)) {
    if ((await client.fetch(`${node.url}/bench/${name}`, { method: 'PUT', body: randomBytes(size) })).status !== 200) throw new Error(`cannot PUT ${name}`)
  }
  const endpoints = {
    direct: node.url,
    miss: await worker({ S3MESH_CACHE: 'off' }),
    revalidate: await worker({ S3MESH_CACHE: 'auto', S3MESH_CACHE_TTL_SECONDS: '0' }),
    hit: await worker({ S3MESH_CACHE: 'auto', S3MESH_CACHE_TTL_SECONDS: '60' }),
    'hit-memory': await worker({ S3MESH_CACHE: 'memory', S3MESH_CACHE_TTL_SECONDS: '60' }),
  }
  type Reading = Record<string, Record<string, { p50Ms: number, p99Ms: number, opsPerSec: number }>>
  const readings: Reading[] = []
  for (let run = 0; run < options.runs; run++) {
    process.stderr.write(`edge: run ${run + 1} of ${options.runs}\n`)
    const reading: Reading = {}
    for (const [name, size] of Object.entries(SIZES)) {
      // Round-robin over the modes, so that the machine's ups and downs fall on all of them alike.
      const times: Record<string, number[]> = Object.fromEntries(Object.keys(endpoints).map(m => [m, []]))
      for (let i = 0; i < WARMUP + RUNS; i++) {
        for (const [mode, endpoint] of Object.entries(endpoints)) {
          const ms = await get(endpoint, name, size)
          if (i >= WARMUP) times[mode]!.push(ms)
        }
      }
      reading[name] = Object.fromEntries(Object.entries(times).map(([mode, t]) =>
        [mode, { p50Ms: percentile(t, 50), p99Ms: percentile(t, 99), opsPerSec: 1000 * t.length / t.reduce((a, b) => a + b, 0) }]))
    }
    readings.push(reading)
  }
  const results: Record<string, Record<string, { p50Ms: Spread, p99Ms: Spread, opsPerSec: Spread, p50VsDirect: Spread }>> = {}
  for (const name of Object.keys(SIZES)) {
    results[name] = Object.fromEntries(Object.keys(endpoints).map(mode => [mode, {
      p50Ms: spread(readings.map(r => r[name]![mode]!.p50Ms)),
      p99Ms: spread(readings.map(r => r[name]![mode]!.p99Ms)),
      opsPerSec: spread(readings.map(r => r[name]![mode]!.opsPerSec), 1),
      p50VsDirect: spread(readings.map(r => r[name]![mode]!.p50Ms / r[name]!.direct!.p50Ms)),
    }]))
  }
  await keep('edge', options, { runtime: 'workerd (miniflare 3)', getsPerRun: RUNS, get: results, readings },
    'GET p50, median (range) of runs: ' + Object.entries(results).map(([size, r]) =>
      `${size} direct ${showSpread(r.direct!.p50Ms)} ms, via worker miss ${showSpread(r.miss!.p50VsDirect, 'x')}, revalidated ${showSpread(r.revalidate!.p50VsDirect, 'x')}, hit ${showSpread(r.hit!.p50VsDirect, 'x')}, hit from memory ${showSpread(r['hit-memory']!.p50VsDirect, 'x')}`).join('; '))
} finally {
  for (const mf of workers) await mf.dispose()
  await node.stop()
}
process.exit(0)
