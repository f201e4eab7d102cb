import { table } from './table.js'

interface Percentiles { p50: number, p99: number }
interface Row { n: number, listedMs: Percentiles, ackMs: Percentiles, rawGossipsubMs: Percentiles, p50Ratio: number, p99Ratio: number, missedRounds?: number }

/** bench/mesh-convergence and bench/mesh-convergence-processes: one row per cluster size (ms, p50 / p99). */
export function convergenceTable (doc: { rows: Record<string, Row> }): string {
  return table(['N', 'PUT start until every member lists it', 'raw gossipsub: publish until every member has it', 'ratio p50 / p99', 'PUT acknowledged'],
    Object.values(doc.rows).map(r => [r.n, `${r.listedMs.p50} / ${r.listedMs.p99}`, `${r.rawGossipsubMs.p50} / ${r.rawGossipsubMs.p99}`, `${r.p50Ratio}x / ${r.p99Ratio}x`, `${r.ackMs.p50} / ${r.ackMs.p99}`]))
}
