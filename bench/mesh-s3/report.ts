/** The README's tables from bench/results/mesh-s3.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table, times } from '../lib/table.js'

interface Summary { opsPerSec: Spread, p50ms: Spread, p99ms: Spread }
interface Doc {
  cases: Array<{ name: string }>
  oneNode: Record<string, { put: Summary, get: Summary }>
  threeNodes: Record<string, { put: Summary, get: Summary, getElsewhere: Summary }>
  ratios: Record<string, { put: Spread, get: Spread, getElsewhere: Spread, putP50AddedMs: Spread }>
}

export const tables = {
  ops: (doc: Doc): string => table(['object', 'PUT via node 1: one node / three', 'PUT p50 ms: one / three', 'GET via node 1: one / three', 'GET via node 2 (holds ~2/3, fetches the rest)'],
    doc.cases.map(({ name }) => {
      const [one, three, r] = [doc.oneNode[name]!, doc.threeNodes[name]!, doc.ratios[name]!]
      return [name,
        `${showSpread(one.put.opsPerSec)} / ${showSpread(three.put.opsPerSec)} (${times(r.put)})`,
        `${one.put.p50ms.median} / ${three.put.p50ms.median}`,
        `${showSpread(one.get.opsPerSec)} / ${showSpread(three.get.opsPerSec)} (${times(r.get)})`,
        `${showSpread(three.getElsewhere.opsPerSec)} (${times(r.getElsewhere)})`]
    })),
}
