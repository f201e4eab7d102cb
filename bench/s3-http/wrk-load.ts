import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { s3Signer } from '../../src/core/s3-signer.js'
import { round } from '../lib/stats.js'
import type { LoadResult } from './sdk-load.js'
import type { Target } from './targets.js'

const WRK = '/usr/bin/wrk'
/** Presigned paths (UNSIGNED-PAYLOAD), so the C load generator does no signing or hashing of its own. */
async function presignedPaths (target: Target, bucket: string, method: string, size: number, count: number): Promise<string[]> {
  const signer = s3Signer({ accessKeyId: target.accessKey, secretAccessKey: target.secretKey })
  const url = target.url
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const signed = await signer.sign(`${url}/${bucket}/wrk-${size}/${i}?X-Amz-Expires=3600`, { method, aws: { signQuery: true } } as never)
    const u = new URL(signed.url)
    out.push(u.pathname + u.search)
  }
  return out
}

function toMs (value: string, unit: string): number {
  const n = Number(value)
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n
}

/** wrk, 2 threads and `connections` connections for `seconds`, cycling over `count` keys (GET expects them to exist). */
export async function wrkCase (target: Target, bucket: string, method: 'PUT' | 'GET', size: number, count: number, seconds: number, connections: number, dir: string): Promise<LoadResult> {
  const paths = await presignedPaths(target, bucket, method, size, count)
  const script = join(dir, `wrk-${method}-${size}.lua`)
  // Each wrk thread has its own Lua state: thread i takes keys i, i+2, i+4, ... so the
  // threads never write one key at the same moment and together they touch every key.
  await writeFile(script, [
    `local paths = {${paths.map(p => JSON.stringify(p)).join(',')}}`,
    'local threads = 0',
    'function setup(thread) thread:set("tid", threads); threads = threads + 1 end',
    'function init(args) n = tid end',
    method === 'PUT' ? `local body = string.rep("x", ${size})` : 'local body = nil',
    'request = function()',
    '  n = n + 2',
    `  return wrk.format("${method}", paths[(n % #paths) + 1], {["Content-Type"] = "application/octet-stream"}, body)`,
    'end',
  ].join('\n'))
  const out = await new Promise<string>((resolve, reject) => {
    execFile(WRK, ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, target.url], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`wrk failed: ${stderr}`)); else resolve(stdout)
    })
  })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const total = Number(/(\d+) requests in/.exec(out)?.[1])
  const lat = (p: string): number => { const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out); return m === null ? NaN : round(toMs(m[1]!, m[2]!), 2) }
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const errors = non2xx + (socket === null ? 0 : socket.slice(1).reduce((n, x) => n + Number(x), 0))
  if (errors > 0) throw new Error(`wrk ${method} ${size} against ${target.name}: ${errors} of ${total} requests failed:\n${out}`)
  return { ops: total, seconds, opsPerSec: round(rps), mbPerSec: round(rps * size / 1e6), p50ms: lat('50'), p99ms: lat('99'), errors }
}
