/** The README's tables from bench/results/membership-real.json (see bench/figures.ts). */
import { table } from '../lib/table.js'

interface Doc {
  killDetectionMs: { p50: number, p99: number, all: number[] }
  leavePropagationMs: { p50: number, max: number }
  bytesPerNodePerSecond: number
  predicted: { detectionMs: { low: number, high: number }, suspicionMinMs: number }
}

const s = (ms: number): string => `${Math.round(ms / 100) / 10} s`

export const tables = {
  measures: (doc: Doc): string => table(['measure', 'measured', 'LAN preset predicts'], [
    ['kill -9 until every survivor reports `failed`', `p50 ${s(doc.killDetectionMs.p50)}, p99 ${s(doc.killDetectionMs.p99)} (${doc.killDetectionMs.all.length} kills)`,
      `${s(doc.predicted.detectionMs.low)} (first probe after e/(e-1) intervals + minimum suspicion ${s(doc.predicted.suspicionMinMs)}) to ${s(doc.predicted.detectionMs.high)} (worst case)`],
    ['SIGTERM until every other node reports `left`', `p50 ${Math.round(doc.leavePropagationMs.p50)} ms, max ${Math.round(doc.leavePropagationMs.max)} ms`, 'one message to each member'],
    ['membership bytes sent per node per second (quiet, over two push-pull periods)', Math.round(doc.bytesPerNodePerSecond),
      'one probe per second (ping, ack) carrying recent updates, and a push-pull of every member\'s state every 30 s, staggered; gossipsub\'s own control traffic not counted'],
  ]),
}
