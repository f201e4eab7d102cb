/** The README's tables from bench/results/s3-http.json (see bench/figures.ts). */
import { round, showSpread, type Spread } from '../lib/stats.js'
import { table, times } from '../lib/table.js'

interface Summary { opsPerSec: Spread, p50ms: Spread, p99ms: Spread, cpuMsPerOp?: { user: Spread, system: Spread, total: Spread } }
type Cases = Record<'put64k' | 'get64k' | 'put1m' | 'get1m', Summary>
interface Doc {
  runs: number
  targets: Record<string, { sdk: Cases, wrk?: Cases, big: { putMBps: Spread, getMBps: Spread } }>
  ratios: Record<string, Record<string, Spread>>
}

const SERVERS: Array<[string, string]> = [['s3mesh', '**s3mesh**'], ['s3mesh-nofsync', 's3mesh --no-fsync'], ['s3rver', 's3rver 3.7'], ['raw', 'raw node:http + files'], ['null', 'null endpoint']]
const CASES = ['put64k', 'get64k', 'put1m', 'get1m'] as const
const HEAD = ['PUT 64 KiB', 'GET 64 KiB', 'PUT 1 MiB', 'GET 1 MiB']

const load = (gen: 'sdk' | 'wrk') => (doc: Doc): string => table(['server', ...HEAD],
  SERVERS.map(([k, label]) => [label, ...CASES.map(c => { const s = doc.targets[k]![gen]![c]; return `${showSpread(s.opsPerSec)} · ${round(s.p50ms.median)} / ${round(s.p99ms.median)}` })]))

export const tables = {
  sdk: load('sdk'),
  wrk: load('wrk'),
  big: (doc: Doc): string => table(['server', 'PUT', 'GET'], SERVERS.map(([k, label]) => [label, showSpread(doc.targets[k]!.big.putMBps), showSpread(doc.targets[k]!.big.getMBps)])),
  ratios: (doc: Doc): string => {
    const rows: Array<[string, 'sdk' | 'wrk', string]> = [
      ['s3mesh over s3rver 3.7 (SDK)', 'sdk', 'vsS3rver'], ['s3mesh over the null endpoint (SDK)', 'sdk', 'vsNull'], ['s3mesh over raw node:http + files (SDK)', 'sdk', 'vsRaw'],
      ['s3mesh --no-fsync over s3rver 3.7 (SDK)', 'sdk', 'noFsyncVsS3rver'], ['s3mesh over s3rver 3.7 (wrk)', 'wrk', 'vsS3rver'], ['s3mesh over raw node:http + files (wrk)', 'wrk', 'vsRaw'],
    ]
    return table(['ops/s, within each round', ...HEAD], rows.filter(([, gen]) => doc.ratios[`${gen}-put64k`] !== undefined)
      .map(([label, gen, field]) => [label, ...CASES.map(c => times(doc.ratios[`${gen}-${c}`]![field]!))]))
  },
  cpu: (doc: Doc): string => table(['server', ...HEAD],
    SERVERS.filter(([k]) => k !== 'null').map(([k, label]) => [label, ...CASES.map(c => {
      const cpu = doc.targets[k]!.sdk[c].cpuMsPerOp!
      return `${round(cpu.total.median)} (${round(cpu.system.median)} system)`
    })])),
}
