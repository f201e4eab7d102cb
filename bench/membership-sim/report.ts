/** The README's tables from bench/results/membership-sim.json (see bench/figures.ts). */
import { table } from '../lib/table.js'

interface Row {
  n: number
  joinRounds?: number
  failureFirstMs?: number
  failureAllMs?: number
  leaveMs?: number
  leaveAllMs?: number
  falsePositives: Record<string, number | null>
  messagesPerMemberPerSecond: number
  predicted: { suspicionMinMs: number, suspicionMaxMs: number, disseminationRounds: number }
  wallSeconds: number
}

const s = (ms?: number): string => ms === undefined ? '-' : String(Math.round(ms / 100) / 10)
const fp = (v: number | null | undefined): string => v === null || v === undefined ? 'not run' : String(v)

export const tables = {
  rows: (doc: { rows: Record<string, Row> }): string => table(
    ['N', 'join: 99.9% know (gossip rounds; log4 N)', 'crash: first / 99.9% report failed (s)', 'suspicion min-max (s)', 'leave: 99.9% / all (ms)', 'msgs per member per s', 'false failures in 60 s at 0% / 5% / 20% loss, 1% slow', 'sim wall time (s)'],
    Object.values(doc.rows).map(r => [r.n.toLocaleString('en'), `${r.joinRounds} (${r.predicted.disseminationRounds})`, `${s(r.failureFirstMs)} / ${s(r.failureAllMs)}`,
      `${r.predicted.suspicionMinMs / 1000}-${r.predicted.suspicionMaxMs / 1000}`, `${r.leaveMs} / ${r.leaveAllMs ?? '>10000'}`, r.messagesPerMemberPerSecond,
      ['loss0%', 'loss5%', 'loss20%', 'slow1%'].map(k => fp(r.falsePositives[k])).join(' / '), r.wallSeconds]),
  ),
}
