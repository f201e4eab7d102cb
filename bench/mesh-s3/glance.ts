/**
 * The data path's other ratios, as the benchmarks that measure them last
 * kept them (bench/results), for bench:mesh-s3's summary line: the state of
 * the whole data path at a glance. Each is read, not measured here, and
 * printed with the commit it was measured on; one never kept reads "not kept".
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BENCH } from '../lib/fingerprint.js'
import { showSpread, type Spread } from '../lib/stats.js'

type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

async function kept (name: string): Promise<Doc | undefined> {
  try {
    return JSON.parse(await readFile(join(BENCH, 'results', `${name}.json`), 'utf8')) as Doc
  } catch {
    return undefined
  }
}

const at = (d: Doc): string => `[${String(d.commit ?? '?').slice(0, 7)}]`
const x = (s: Spread | undefined): string => s === undefined ? '?' : showSpread(s, 'x')

/** One clause per measure, each with its goal. */
export interface Glance { line: string, figures: Record<string, unknown> }

export async function glance (): Promise<Glance> {
  const parts: string[] = []
  const figures: Record<string, unknown> = {}
  const transfer = await kept('mesh-transfer')
  if (transfer === undefined) parts.push('verified transfer: not kept')
  else {
    const t = transfer.transfer?.twoProcesses
    figures.verifiedTransferOfRaw = { '1MiB': t?.['1MiB']?.ratio, '256MiB': t?.['256MiB']?.ratio, commit: transfer.commit }
    parts.push(`verified transfer / raw stream ${x(t?.['1MiB']?.ratio)} (1 MiB), ${x(t?.['256MiB']?.ratio)} (256 MiB), goal 0.85x ${at(transfer)}`)
  }
  const http = await kept('s3-http')
  if (http === undefined) parts.push('one node: not kept')
  else {
    const r = http.ratios ?? {}
    figures.oneNodeSdkPut = { vsS3rver: { '64KiB': r['sdk-put64k']?.vsS3rver, '1MiB': r['sdk-put1m']?.vsS3rver }, vsNull: { '64KiB': r['sdk-put64k']?.vsNull, '1MiB': r['sdk-put1m']?.vsNull }, commit: http.commit }
    parts.push(`one node's SDK PUT / s3rver ${x(r['sdk-put64k']?.vsS3rver)} (64 KiB), ${x(r['sdk-put1m']?.vsS3rver)} (1 MiB), goal above 1x; / null endpoint ${x(r['sdk-put64k']?.vsNull)}, ${x(r['sdk-put1m']?.vsNull)}, goal 0.6x ${at(http)}`)
  }
  const browser = await kept('browser')
  if (browser === undefined) parts.push('browser: not kept')
  else {
    figures.browser = { serviceWorkerGetOfIndexedDb: { '64KiB': browser.get?.['64KiB']?.ratio, '1MiB': browser.get?.['1MiB']?.ratio }, uploadOfAwsCli: browser.upload?.ratio, commit: browser.commit }
    parts.push(`service-worker GET / raw IndexedDB ${x(browser.get?.['64KiB']?.ratio)} (64 KiB), ${x(browser.get?.['1MiB']?.ratio)} (1 MiB), goal 0.5x; a page's upload / aws-cli ${x(browser.upload?.ratio)}, goal 0.5x ${at(browser)}`)
  }
  const convergence = await kept('mesh-convergence-processes')
  if (convergence === undefined) parts.push('announcement: not kept')
  else {
    const rows = Object.values(convergence.rows ?? {}) as Array<{ n: number, p99Ratio: number }>
    figures.announcementP99OfGossipsub = { ...Object.fromEntries(rows.map(r => [`n${r.n}`, r.p99Ratio])), commit: convergence.commit }
    parts.push(`listed everywhere p99 / raw gossipsub ${rows.map(r => `${r.p99Ratio}x (N=${r.n})`).join(', ')}, goal 2x ${at(convergence)}`)
  }
  return { line: parts.join('; '), figures }
}
