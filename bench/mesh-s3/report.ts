/** The README's tables from bench/results/mesh-s3.json (see bench/figures.ts). */
import { round, showSpread, type Spread } from '../lib/stats.js'
import { table, times } from '../lib/table.js'

interface Cpu { servers: Spread[], serversTotal: Spread, client: Spread }
interface Summary { opsPerSec: Spread, p50ms: Spread, p99ms: Spread }
interface Doc {
  cases: Array<{ name: string }>
  oneNode: Record<string, { put: Summary, get: Summary }>
  threeNodes: Record<string, { put: Summary, get: Summary, getElsewhere: Summary, getNonHolder?: Summary, getHolderSame?: Summary, copiesPerObject?: Spread, heldByNode2?: Spread }>
  ratios: Record<string, { put: Spread, get: Spread, getElsewhere: Spread, getNonHolder?: Spread, putP50AddedMs: Spread, putCpuBound?: Spread, getNonHolderCpuBound?: Spread }>
  cpu?: Record<string, Record<'onePut' | 'threePut' | 'getAtHolder' | 'getNonHolder', Cpu>>
  range?: { ratio: Spread, nonHolderP50ms: Spread, holderP50ms: Spread, firstMs: Spread, receivedPerReadMiB: Spread }
  rounds: Array<{ range?: { objectBytes: number, reads: number } }>
}

export const tables = {
  ops: (doc: Doc): string => table(['', ...doc.cases.map(c => c.name)], [
    ['PUT via node 1, one node (ops/s)', ...doc.cases.map(c => showSpread(doc.oneNode[c.name]!.put.opsPerSec))],
    ['PUT via node 1, three nodes (ops/s)', ...doc.cases.map(c => showSpread(doc.threeNodes[c.name]!.put.opsPerSec))],
    ['PUT, three nodes over one', ...doc.cases.map(c => times(doc.ratios[c.name]!.put))],
    ['PUT p50 ms, one node / three nodes', ...doc.cases.map(c => `${round(doc.oneNode[c.name]!.put.p50ms.median)} / ${round(doc.threeNodes[c.name]!.put.p50ms.median)}`)],
    ['GET via node 1 (a holder), three nodes over one', ...doc.cases.map(c => times(doc.ratios[c.name]!.get))],
    ['copies per object (two replicas)', ...doc.cases.map(c => doc.threeNodes[c.name]!.copiesPerObject === undefined ? '-' : showSpread(doc.threeNodes[c.name]!.copiesPerObject!))],
    ['share of the objects node 2 holds', ...doc.cases.map(c => doc.threeNodes[c.name]!.heldByNode2 === undefined ? '-' : showSpread(doc.threeNodes[c.name]!.heldByNode2!))],
    ['GET via node 2 (reads what it lacks through), over one node', ...doc.cases.map(c => times(doc.ratios[c.name]!.getElsewhere))],
    ['GET of what node 2 lacks: via node 2 (ops/s)', ...doc.cases.map(c => doc.threeNodes[c.name]!.getNonHolder === undefined ? '-' : showSpread(doc.threeNodes[c.name]!.getNonHolder!.opsPerSec))],
    ['the same GETs via node 1, a holder (ops/s)', ...doc.cases.map(c => doc.threeNodes[c.name]!.getHolderSame === undefined ? '-' : showSpread(doc.threeNodes[c.name]!.getHolderSame!.opsPerSec))],
    ['GET through a non-holder over at a holder', ...doc.cases.map(c => doc.ratios[c.name]!.getNonHolder === undefined ? '-' : times(doc.ratios[c.name]!.getNonHolder!))],
  ]),
  /** CPU ms per operation: every server's (each, and together) and the SDK's; the ratio it allows beside the one measured. */
  cpu: (doc: Doc): string => {
    if (doc.cpu === undefined) return table(['CPU per operation', ''], [['not measured in the kept run', '-']])
    const cpu = doc.cpu
    const ms = (c: Cpu): string => `${round(c.serversTotal.median + c.client.median, 2)} (${c.servers.map(s => round(s.median, 2)).join(' + ')}; SDK ${round(c.client.median, 2)})`
    const row = (label: string, pick: (name: string) => string): string[] => [label, ...doc.cases.map(c => pick(c.name))]
    return table(['CPU ms per operation, all processes (each server; the SDK)', ...doc.cases.map(c => c.name)], [
      row('PUT, one node', n => ms(cpu[n]!.onePut)),
      row('PUT, three nodes', n => ms(cpu[n]!.threePut)),
      row('PUT ratio the CPU allows / measured', n => `${times(doc.ratios[n]!.putCpuBound!)} / ${times(doc.ratios[n]!.put)}`),
      row('GET at a holder (node 1)', n => ms(cpu[n]!.getAtHolder)),
      row('GET through a non-holder (node 2)', n => ms(cpu[n]!.getNonHolder)),
      row('GET ratio the CPU allows / measured', n => `${times(doc.ratios[n]!.getNonHolderCpuBound!)} / ${times(doc.ratios[n]!.getNonHolder!)}`),
    ])
  },
  range: (doc: Doc): string => {
    const r = doc.range
    if (r === undefined) return table(['1 MiB ranges', ''], [['not measured in the kept run', '-']])
    const mib = (doc.rounds[0]?.range?.objectBytes ?? 0) / (1024 * 1024)
    return table([`1 MiB ranges of a ${mib} MiB object, one at a time`, ''], [
      ['p50 ms through node 3 (no copy) / at node 1 (a holder)', `${showSpread(r.nonHolderP50ms)} / ${showSpread(r.holderP50ms)}`],
      ['ops/s through node 3 over at node 1', times(r.ratio)],
      ['MiB node 3 received per range', showSpread(r.receivedPerReadMiB)],
      ['the first range through node 3, ms (its holder makes the tree)', showSpread(r.firstMs)],
    ])
  },
}
