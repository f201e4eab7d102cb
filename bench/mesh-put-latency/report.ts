/** The README's tables from bench/results/mesh-put-latency.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table } from '../lib/table.js'

interface Phases { write: Spread, copies: Spread, announce: Spread, outside: Spread }
interface Figures { oneNode: { p50: Spread, p90: Spread, p99: Spread }, threeNodes: { p50: Spread, p90: Spread, p99: Spread }, addedP50: Spread, oneNodePhases?: Phases, threeNodesPhases?: Phases }
interface Doc { cases: Array<{ name: string }>, figures: Record<string, Figures> }

export const tables = {
  latency: (doc: Doc): string => table(['PUT one at a time, ms', ...doc.cases.map(c => c.name)], [
    ['one node: p50 / p90 / p99', ...doc.cases.map(c => { const f = doc.figures[c.name]!.oneNode; return `${f.p50.median} / ${f.p90.median} / ${f.p99.median}` })],
    ['three nodes, two replicas: p50 / p90 / p99', ...doc.cases.map(c => { const f = doc.figures[c.name]!.threeNodes; return `${f.p50.median} / ${f.p90.median} / ${f.p99.median}` })],
    ['p50 three nodes add over one (same round)', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.addedP50))],
  ]),
  /** p50s of a PUT's parts, from its Server-Timing (run.ts says what each is). */
  phases: (doc: Doc): string => table(['PUT one at a time, p50 ms of each part', ...doc.cases.map(c => `${c.name}: one node`), ...doc.cases.map(c => `${c.name}: three nodes`)],
    (['write', 'copies', 'announce', 'outside'] as const).map(part => [part,
      ...doc.cases.map(c => showPhase(doc.figures[c.name]!.oneNodePhases, part)),
      ...doc.cases.map(c => showPhase(doc.figures[c.name]!.threeNodesPhases, part))])),
}

function showPhase (p: Phases | undefined, part: keyof Phases): string {
  return p === undefined ? 'not measured' : String(p[part].median)
}
