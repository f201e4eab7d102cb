/**
 * bench/s3-http: s3mesh against s3rver, a null endpoint (the load generator's
 * own ceiling) and raw node:http file streaming, all measured in this run on
 * this machine. Prints one JSON document, then a one-line summary.
 *
 *   npm run bench:s3-http            # full run (about 5 minutes)
 *   npm run bench:s3-http -- --quick # smoke run
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { round } from '../lib/stats.js'
import { bigObject } from './big-object.js'
import { client, ensureBucket, putKeys, sdkPutGet, type LoadResult } from './sdk-load.js'
import { startNull, startRaw, startS3mesh, startS3rver, type Target } from './targets.js'
import { wrkCase } from './wrk-load.js'

const quick = process.argv.includes('--quick')
const params = {
  concurrency: 8,
  smallSize: 64 * 1024,
  smallCount: quick ? 300 : 2000,
  mediumSize: 1024 * 1024,
  mediumCount: quick ? 60 : 400,
  bigSize: (quick ? 32 : 256) * 1024 * 1024,
  wrkSeconds: quick ? 2 : 5,
  wrkConnections: 8,
  wrkKeys: 200,
}

interface TargetResult {
  sdk: { put64k: LoadResult, get64k: LoadResult, put1m: LoadResult, get1m: LoadResult }
  wrk?: { put64k: LoadResult, get64k: LoadResult, put1m: LoadResult, get1m: LoadResult }
  big: { putMBps: number, getMBps: number }
}

async function measure (target: Target, dir: string): Promise<TargetResult> {
  const s3 = client(target)
  const bucket = 'bench'
  await ensureBucket(s3, bucket)
  const small = await sdkPutGet(s3, bucket, params.smallSize, params.smallCount, params.concurrency)
  const medium = await sdkPutGet(s3, bucket, params.mediumSize, params.mediumCount, params.concurrency)
  const result: TargetResult = {
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

const dir = await mkdtemp(join(tmpdir(), 's3mesh-bench-'))
const results: Record<string, TargetResult> = {}
try {
  for (const start of [startNull, startRaw, startS3rver, () => startS3mesh(true), () => startS3mesh(false)]) {
    const target = await start()
    try {
      process.stderr.write(`bench: measuring ${target.name}\n`)
      results[target.name] = await measure(target, dir)
    } finally {
      await target.stop()
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

const mesh = results.s3mesh!
const ratio = (a: number, b: number): number => round(a / b, 2)
const cases = ['put64k', 'get64k', 'put1m', 'get1m'] as const
const ratios: Record<string, Record<string, number>> = {}
for (const gen of ['sdk', 'wrk'] as const) {
  if (mesh[gen] === undefined) continue
  for (const c of cases) {
    const m = mesh[gen]![c].opsPerSec
    ratios[`${gen}.${c}`] = { vsS3rver: ratio(m, results.s3rver![gen]![c].opsPerSec), vsNull: ratio(m, results.null![gen]![c].opsPerSec), vsRaw: ratio(m, results.raw![gen]![c].opsPerSec) }
  }
}
ratios.big = { putVsS3rver: ratio(mesh.big.putMBps, results.s3rver!.big.putMBps), getVsS3rver: ratio(mesh.big.getMBps, results.s3rver!.big.getMBps) }

const goals = {
  aheadOfS3rverEverywhere: Object.entries(ratios).every(([k, r]) => k === 'big' ? r.putVsS3rver! > 1 && r.getVsS3rver! > 1 : r.vsS3rver! > 1),
  sdkGetAtLeast80PctOfNull: ratios['sdk.get64k']!.vsNull! >= 0.8 && ratios['sdk.get1m']!.vsNull! >= 0.8,
  sdkPutAtLeast60PctOfNull: ratios['sdk.put64k']!.vsNull! >= 0.6 && ratios['sdk.put1m']!.vsNull! >= 0.6,
  wrkGet1mAtLeast70PctOfRaw: ratios['wrk.get1m'] === undefined ? null : ratios['wrk.get1m'].vsRaw! >= 0.7,
}

const doc = { bench: 's3-http', date: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version }, params, results, ratios, goals }
process.stdout.write(JSON.stringify(doc, null, 2) + '\n')
const s = (c: typeof cases[number]): string => `${c} ${mesh.sdk[c].opsPerSec}/s (${ratios[`sdk.${c}`]!.vsS3rver}x s3rver, ${Math.round(ratios[`sdk.${c}`]!.vsNull! * 100)}% null)`
process.stdout.write(`s3-http: SDK c=8 ${cases.map(s).join('; ')}; wrk get1m ${mesh.wrk?.get1m.opsPerSec ?? '-'}/s (${Math.round((ratios['wrk.get1m']?.vsRaw ?? NaN) * 100)}% raw); 256MiB put ${mesh.big.putMBps} MB/s get ${mesh.big.getMBps} MB/s; goals ${Object.entries(goals).map(([k, v]) => `${k}=${v === true ? 'met' : v === false ? 'MISSED' : 'n/a'}`).join(' ')}\n`)
