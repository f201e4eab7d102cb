/** docs/benchmarks.md's access table from bench/results/access.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table, times } from '../lib/table.js'

interface Doc {
  runs: number
  get: { statements: number, root: Spread, user: Spread, userOverRoot: Spread }
  revocation: { nodes: number, trials: number, p50ms: number, p99ms: number, maxMs: number }
  guestRevocation: { nodes: number, trials: number, p50ms: number, p99ms: number, maxMs: number }
}

export const tables = {
  access: (doc: Doc): string => table(['', 'measured', 'goal'], [
    ['GET 64 KiB as root (ops/s)', showSpread(doc.get.root), ''],
    [`GET 64 KiB as a user with ${doc.get.statements} statements (ops/s)`, showSpread(doc.get.user), ''],
    ['user over root', times(doc.get.userOverRoot), '≥ 0.95x'],
    [`revocation, last of ${doc.revocation.nodes} processes refusing: p50 (ms)`, doc.revocation.p50ms, ''],
    [`revocation: p99 over ${doc.revocation.trials} trials (ms)`, doc.revocation.p99ms, '< 2000'],
    [`the user's guest (a tab) refused by the last of ${doc.guestRevocation.nodes}: p50 (ms)`, doc.guestRevocation.p50ms, ''],
    [`the guest: p99 over ${doc.guestRevocation.trials} trials (ms)`, doc.guestRevocation.p99ms, '< 60000 (its admission\'s lifetime)'],
  ]),
}
