/** The README's tables from bench/results/mesh-transfer.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table } from '../lib/table.js'

interface Row { rawMBps: Spread, transferMBps: Spread, ratio: Spread, bound: Spread, ofBound: Spread }
interface Doc { cases: Array<{ name: string }>, transfer: Record<'twoProcesses' | 'oneProcess', Record<string, Row>> }

const pct = (s: Spread): string => s.min === s.max ? `${Math.round(s.median * 100)}%` : `${Math.round(s.median * 100)}% (${Math.round(s.min * 100)}-${Math.round(s.max * 100)})`

export const tables = {
  transfer: (doc: Doc): string => table(['holder', 'object', 'raw stream MB/s', 'transfer (verified) MB/s', 'transfer / raw', 'raw + SHA-256 alone', 'transfer / that bound'],
    (['twoProcesses', 'oneProcess'] as const).flatMap(setup => doc.cases.map(({ name }) => {
      const r = doc.transfer[setup][name]!
      return [setup === 'twoProcesses' ? 'two processes' : 'one process', name, showSpread(r.rawMBps), showSpread(r.transferMBps), pct(r.ratio), pct(r.bound), pct(r.ofBound)]
    }))),
}
