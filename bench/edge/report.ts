/** The README's tables from bench/results/edge.json (see bench/figures.ts). */
import { type Spread } from '../lib/stats.js'
import { table, times } from '../lib/table.js'

interface Mode { p50Ms: Spread, p99Ms: Spread, p50VsDirect: Spread }
interface Doc { get: Record<string, Record<string, Mode>> }

const MODES = ['miss', 'revalidate', 'hit', 'hit-memory']

export const tables = {
  get: (doc: Doc): string => table(['object', 'direct to the node', 'worker, cache off', 'worker, revalidated (304)', 'worker, Cache API hit', 'worker, memory hit'],
    Object.entries(doc.get).map(([size, r]) => [size, `${r.direct!.p50Ms.median} / ${r.direct!.p99Ms.median}`,
      ...MODES.map(m => `${r[m]!.p50Ms.median} / ${r[m]!.p99Ms.median} · ${times(r[m]!.p50VsDirect)}`)])),
}
