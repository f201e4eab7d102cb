/** The README's tables from bench/results/mesh-repair.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table } from '../lib/table.js'

interface Figures { lost: Spread, deadMs: Spread, repairedMs: Spread, repairMs: Spread, clientCopyMs: Spread, repairOverCopy: Spread }
interface Doc { cases: Array<{ name: string, objects: number }>, figures: Record<string, Figures> }

export const tables = {
  repair: (doc: Doc): string => table(['after node 3 is killed', ...doc.cases.map(c => `${c.objects} × ${c.name}`)], [
    ['objects node 3 held (at one copy)', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.lost))],
    ['node 2 lists node 3 failed, ms', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.deadMs))],
    ['node 2 has fetched them all, ms', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.repairedMs))],
    ['the repair alone (failed until fetched), ms', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.repairMs))],
    ['a client copying them (GET node 1, PUT one node), ms', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.clientCopyMs))],
    ['repair over the client\'s copy', ...doc.cases.map(c => showSpread(doc.figures[c.name]!.repairOverCopy, 'x'))],
  ]),
}
