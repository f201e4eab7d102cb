/**
 * bench/s3-http: s3mesh against s3rver, a null endpoint (the load generator's
 * own ceiling) and raw node:http file streaming, all measured in this run on
 * this machine. Each round starts every server in turn (the order rotates
 * from round to round, so drift in the machine hits all alike) and drives it
 * with the AWS SDK v3 (default settings, 8 at a time), with wrk (presigned
 * URLs) and with one large object; the server's CPU time per operation comes
 * from /proc. Figures are the median of the rounds with their range, ratios
 * taken within each round. Prints one JSON document (kept in
 * bench/results/s3-http.json), then a one-line summary.
 *
 *   npm run bench:s3-http                # 3 rounds (about 15 minutes)
 *   npm run bench:s3-http -- --runs 5
 *   npm run bench:s3-http -- --quick     # smoke run, not kept
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchOptions, keep } from '../lib/keep.js'
import { showSpread, spread, type Spread } from '../lib/stats.js'
import { bigObject } from './big-object.js'
import { client, ensureBucket, putKeys, sdkPutGet, type LoadResult } from './sdk-load.js'
import { startNull, startRaw, startS3mesh, startS3rver, type Target } from './targets.js'
import { wrkCase } from './wrk-load.js'

const options = benchOptions(3)
const quick = options.quick
const params = {
  concurrency: 8,
  smallSize: 64 * 1024,
  smallCount: quick ? 300 : 1500,
  mediumSize: 1024 * 1024,
  mediumCount: quick ? 60 : 300,
  bigSize: (quick ? 32 : 256) * 1024 * 1024,
  wrkSeconds: quick ? 2 : 5,
  wrkConnections: 8,
  wrkKeys: 200,
}

const CASES = ['put64k', 'get64k', 'put1m', 'get1m'] as const
type Case = typeof CASES[number]
type Loads = Record<Case, LoadResult>
interface Reading { sdk: Loads, wrk?: Loads, big: { putMBps: number, getMBps: number } }

async function measure (target: Target, dir: string): Promise<Reading> {
  const s3 = client(target)
  const bucket = 'bench'
  await ensureBucket(s3, bucket)
  const small = await sdkPutGet(s3, bucket, params.smallSize, params.smallCount, params.concurrency, target.pid)
  const medium = await sdkPutGet(s3, bucket, params.mediumSize, params.mediumCount, params.concurrency, target.pid)
  const result: Reading = {
    sdk: { put64k: small.put, get64k: small.get, put1m: medium.put, get1m: medium.get },
    big: await bigObject(s3, bucket, params.bigSize),
  }
  if (existsSync('/usr/bin/wrk')) {
    const w = (method: 'PUT' | 'GET', size: number): Promise<LoadResult> => wrkCase(target, bucket, method, size, params.wrkKeys, params.wrkSeconds, params.wrkConnections, dir)
    // GET reads keys the PUT case wrote; write them all first so a short PUT run cannot leave gaps.
    const put64k = await w('PUT', params.smallSize)
    await putKeys(s3, bucket, 'wrk', params.smallSize, params.wrkKeys)
    const get64k = await w('GET', params.smallSize)
    const put1m = await w('PUT', params.mediumSize)
    await putKeys(s3, bucket, 'wrk', params.mediumSize, params.wrkKeys)
    result.wrk = { put64k, get64k, put1m, get1m: await w('GET', params.mediumSize) }
  }
  s3.destroy()
  return result
}

const starts: Record<string, () => Promise<Target>> = {
  null: startNull, raw: startRaw, s3rver: startS3rver, s3mesh: async () => await startS3mesh(true), 's3mesh-nofsync': async () => await startS3mesh(false),
}
const names = Object.keys(starts)

const dir = await mkdtemp(join(tmpdir(), 's3mesh-bench-'))
const rounds: Array<{ order: string[], readings: Record<string, Reading> }> = []
try {
  for (let r = 0; r < options.runs; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!)
    const readings: Record<string, Reading> = {}
    for (const name of order) {
      const target = await starts[name]!()
      try {
        process.stderr.write(`s3-http: round ${r + 1} of ${options.runs}, ${name}\n`)
        readings[name] = await measure(target, dir)
      } finally {
        await target.stop()
      }
    }
    rounds.push({ order, readings })
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

interface Summary { opsPerSec: Spread, mbPerSec: Spread, p50ms: Spread, p99ms: Spread, cpuMsPerOp?: { user: Spread, system: Spread, total: Spread } }
const across = (f: (r: Reading) => number | undefined, target: string, digits = 1): Spread =>
  spread(rounds.map(r => f(r.readings[target]!)).filter((v): v is number => v !== undefined), digits)
function summary (target: string, gen: 'sdk' | 'wrk', c: Case): Summary {
  const load = (r: Reading): LoadResult => r[gen]![c]
  const out: Summary = {
    opsPerSec: across(r => load(r).opsPerSec, target), mbPerSec: across(r => load(r).mbPerSec, target),
    p50ms: across(r => load(r).p50ms, target, 2), p99ms: across(r => load(r).p99ms, target, 2),
  }
  if (rounds[0]!.readings[target]![gen]![c].cpuMsPerOp !== undefined) {
    out.cpuMsPerOp = {
      user: across(r => load(r).cpuMsPerOp!.user, target, 3),
      system: across(r => load(r).cpuMsPerOp!.system, target, 3),
      total: across(r => load(r).cpuMsPerOp!.user + load(r).cpuMsPerOp!.system, target, 3),
    }
  }
  return out
}
const gens = (rounds[0]!.readings.s3mesh!.wrk === undefined ? ['sdk'] : ['sdk', 'wrk']) as Array<'sdk' | 'wrk'>
const targets = Object.fromEntries(names.map(t => [t, {
  ...Object.fromEntries(gens.map(g => [g, Object.fromEntries(CASES.map(c => [c, summary(t, g, c)]))])),
  big: { putMBps: across(r => r.big.putMBps, t), getMBps: across(r => r.big.getMBps, t) },
}])) as Record<string, Record<'sdk' | 'wrk', Record<Case, Summary>> & { big: { putMBps: Spread, getMBps: Spread } }>

/** s3mesh's reading over another server's, within each round. */
const ratio = (f: (r: Reading) => number, of: string, to: string): Spread => spread(rounds.map(r => f(r.readings[of]!) / f(r.readings[to]!)))
const ratios: Record<string, Record<string, Spread>> = {}
for (const g of gens) {
  for (const c of CASES) {
    const ops = (r: Reading): number => r[g]![c].opsPerSec
    ratios[`${g}-${c}`] = { vsS3rver: ratio(ops, 's3mesh', 's3rver'), vsNull: ratio(ops, 's3mesh', 'null'), vsRaw: ratio(ops, 's3mesh', 'raw'), noFsyncVsS3rver: ratio(ops, 's3mesh-nofsync', 's3rver') }
  }
}
ratios.big = { putVsS3rver: ratio(r => r.big.putMBps, 's3mesh', 's3rver'), getVsS3rver: ratio(r => r.big.getMBps, 's3mesh', 's3rver') }

const med = (k: string, f: string): number => ratios[k]![f]!.median
const goals = {
  sdkPutAheadOfS3rver: med('sdk-put64k', 'vsS3rver') > 1 && med('sdk-put1m', 'vsS3rver') > 1,
  sdkPutAtLeast60PctOfNull: med('sdk-put64k', 'vsNull') >= 0.6 && med('sdk-put1m', 'vsNull') >= 0.6,
  sdkGetAheadOfS3rver: med('sdk-get64k', 'vsS3rver') > 1 && med('sdk-get1m', 'vsS3rver') > 1,
  wrkGet1mAtLeast70PctOfRaw: gens.includes('wrk') ? med('wrk-get1m', 'vsRaw') >= 0.7 : null,
}

const s = (c: Case): string => `${c} ${showSpread(targets.s3mesh!.sdk[c].opsPerSec)}/s (${showSpread(ratios[`sdk-${c}`]!.vsS3rver!, 'x')} s3rver, ${showSpread(ratios[`sdk-${c}`]!.vsNull!, 'x')} null)`
await keep('s3-http', options, { params, targets, ratios, goals, rounds },
  `SDK c=8, median (range) of ${options.runs} rounds: ${CASES.map(s).join('; ')}; 256MiB put ${showSpread(targets.s3mesh!.big.putMBps)} MB/s get ${showSpread(targets.s3mesh!.big.getMBps)} MB/s; goals ${Object.entries(goals).map(([k, v]) => `${k}=${v === true ? 'met' : v === false ? 'MISSED' : 'n/a'}`).join(' ')}`)
