/** The README's tables from bench/results/mesh-transfer.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table } from '../lib/table.js'

interface Row { rawMBps: Spread, transferMBps: Spread, ratio: Spread, bound: Spread, ofBound: Spread }
type Setup = 'twoProcesses' | 'oneProcess' | 'twoProcessesStockTcp'
interface Doc { cases: Array<{ name: string }>, transfer: Record<Setup, Record<string, Row>>, corkedOverStock: Record<string, { raw: Spread, transfer: Spread }> }

const pct = (s: Spread): string => s.min === s.max ? `${Math.round(s.median * 100)}%` : `${Math.round(s.median * 100)}% (${Math.round(s.min * 100)}-${Math.round(s.max * 100)})`
const label: Record<Setup, string> = { twoProcesses: 'two processes', oneProcess: 'one process', twoProcessesStockTcp: 'two processes, stock @libp2p/tcp' }

export const tables = {
  transfer: (doc: Doc): string => table(['holder', 'object', 'raw stream MB/s', 'transfer (verified) MB/s', 'transfer / raw', 'raw + SHA-256 alone', 'transfer / that bound'],
    (['twoProcesses', 'oneProcess', 'twoProcessesStockTcp'] as const).flatMap(setup => doc.cases.map(({ name }) => {
      const r = doc.transfer[setup][name]!
      return [label[setup], name, showSpread(r.rawMBps), showSpread(r.transferMBps), pct(r.ratio), pct(r.bound), pct(r.ofBound)]
    }))),
  corked: (doc: Doc): string => table(['object', 'raw stream, corked over stock', 'transfer (verified), corked over stock'],
    doc.cases.map(({ name }) => [name, showSpread(doc.corkedOverStock[name]!.raw, 'x'), showSpread(doc.corkedOverStock[name]!.transfer, 'x')])),
}
