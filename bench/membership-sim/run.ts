/**
 * bench/membership-sim: the real Membership state machine on the simulated
 * network (virtual time, 0.5-3 ms latency), N members, LAN preset, starting
 * from a formed cluster. Measures dissemination of a join, a failure and a
 * leave (time until 99.9% and until all members know), detection times, false
 * positives under loss and with slow members, and messages per member per
 * second; prints them beside what SWIM and memberlist predict. JSON (kept in
 * bench/results/membership-sim.json), then a one-line summary.
 *
 *   npm run bench:membership-sim              # N = 100, 1,000 and 10,000 (about 9 minutes, 6 GB)
 *   npm run bench:membership-sim -- 100 3000  # printed, not kept
 */
import { LAN } from '../../src/core/membership/config.js'
import { retransmitLimit } from '../../src/core/membership/broadcast-queue.js'
import { suspicionTimeout } from '../../src/core/membership/suspicion.js'
import { benchArgs, benchOptions, keep } from '../lib/keep.js'
import { round } from '../lib/stats.js'
import { formCluster, reportedBy } from './scenario.js'

const options = benchOptions(1)
const sizes = benchArgs().map(Number).filter(n => n > 1)
// Only the full set of sizes is kept.
if (sizes.length > 0) options.save = false
const ns = sizes.length > 0 ? sizes : [100, 1000, 10_000]
const SHARE = 0.999
/** Above 1,000 members, loss rates beyond this are not simulated (see below). */
const MAX_LOSS_AT_SCALE = 0.05

interface Row {
  n: number
  joinMs?: number
  joinAllMs?: number
  joinRounds?: number
  failureFirstMs?: number
  failureAllMs?: number
  leaveMs?: number
  leaveAllMs?: number
  leaveRounds?: number
  falsePositives: Record<string, number | null>
  messagesPerMemberPerSecond: number
  predicted: { suspicionMinMs: number, suspicionMaxMs: number, firstProbeMs: number, retransmits: number, disseminationRounds: number }
  wallSeconds: number
  heapMb: number
}

function measure (n: number): Row {
  const wall = performance.now()
  const row = dissemination(n)
  // The slow-member cluster is formed after the first is garbage: at 10,000 members each holds 10^8 entries.
  phase(n, '1% slow members')
  const slow = formCluster({ n, seed: n + 1, slowShare: 0.01, slowMs: LAN.probeTimeoutMs * 1.5 })
  slow.sim.recording = new Set(['member:failed'])
  const slowFrom = slow.sim.now
  slow.sim.run(60_000)
  row.falsePositives['slow1%'] = slow.sim.events.filter(e => e.name === 'member:failed' && e.at >= slowFrom).length
  row.heapMb = round(Math.max(row.heapMb, process.memoryUsage().heapUsed / 1e6))
  row.wallSeconds = round((performance.now() - wall) / 1000)
  return row
}

function dissemination (n: number): Row {
  const { sim, ids } = formCluster({ n, seed: n })

  phase(n, 'formed; quiet load')
  // Load: messages per member per second in a quiet cluster.
  const sent0 = sim.messagesSent
  sim.run(10_000)
  const messagesPerMemberPerSecond = (sim.messagesSent - sent0) / n / 10

  phase(n, 'a join')
  const joinAt = sim.now
  sim.add('newcomer', { join: [ids[Math.floor(n / 2)]!] })
  sim.run(15_000)
  const joinMs = reportedBy(sim, ids, 'newcomer', 'member:join', joinAt, SHARE)
  const joinAllMs = reportedBy(sim, ids, 'newcomer', 'member:join', joinAt, 1)

  phase(n, 'a crash')
  const crashed = ids[3]!
  const survivors = ids.filter(id => id !== crashed)
  const crashAt = sim.now
  sim.crash(crashed)
  const maxSuspicion = LAN.suspicionMaxTimeoutMult * suspicionTimeout(LAN.suspicionMult, n, LAN.probeIntervalMs)
  sim.run(maxSuspicion + 10_000)
  const failureFirstMs = reportedBy(sim, survivors, crashed, 'member:failed', crashAt, 1 / survivors.length)
  const failureAllMs = reportedBy(sim, survivors, crashed, 'member:failed', crashAt, SHARE)

  phase(n, 'a leave')
  const leaver = ids[5]!
  const rest = survivors.filter(id => id !== leaver)
  const leaveAt = sim.now
  sim.members.get(leaver)!.membership.leave()
  sim.run(10_000)
  const leaveMs = reportedBy(sim, rest, leaver, 'member:leave', leaveAt, SHARE)
  const leaveAllMs = reportedBy(sim, rest, leaver, 'member:leave', leaveAt, 1)

  // False positives: members reported failed that never failed, over 60 s, at each loss rate.
  const falsePositives: Record<string, number | null> = {}
  for (const loss of [0, 0.05, 0.2]) {
    if (loss > MAX_LOSS_AT_SCALE && n > 1000) {
      // At 20% loss 7% of probes fail: 10,000 members raise ~700 suspicions a second, each
      // delivered to every member about 20 times. That is 10^8 deliveries per simulated second.
      falsePositives[`loss${loss * 100}%`] = null
      continue
    }
    sim.loss = loss
    // Only failures are counted here; recording every suspicion everywhere would not fit in memory at 10,000.
    sim.recording = new Set(['member:failed'])
    phase(n, `${loss * 100}% loss`)
    const from = sim.now
    sim.run(60_000)
    falsePositives[`loss${loss * 100}%`] = sim.events.filter(e => e.name === 'member:failed' && e.at >= from && e.member.id !== crashed && e.member.id !== leaver).length
  }
  sim.loss = 0
  const heapMb = process.memoryUsage().heapUsed / 1e6

  const minS = suspicionTimeout(LAN.suspicionMult, n, LAN.probeIntervalMs)
  return {
    n,
    joinMs: joinMs === undefined ? undefined : round(joinMs), joinAllMs: joinAllMs === undefined ? undefined : round(joinAllMs), joinRounds: joinMs === undefined ? undefined : round(joinMs / LAN.gossipIntervalMs, 1),
    failureFirstMs: failureFirstMs === undefined ? undefined : round(failureFirstMs), failureAllMs: failureAllMs === undefined ? undefined : round(failureAllMs),
    leaveMs: leaveMs === undefined ? undefined : round(leaveMs), leaveAllMs: leaveAllMs === undefined ? undefined : round(leaveAllMs), leaveRounds: leaveMs === undefined ? undefined : round(leaveMs / LAN.gossipIntervalMs, 1),
    falsePositives,
    messagesPerMemberPerSecond: round(messagesPerMemberPerSecond, 2),
    predicted: {
      suspicionMinMs: minS,
      suspicionMaxMs: LAN.suspicionMaxTimeoutMult * minS,
      // SWIM: a failed member is first probed after e/(e-1) probe periods on average.
      firstProbeMs: round(LAN.probeIntervalMs * Math.E / (Math.E - 1)),
      retransmits: retransmitLimit(LAN.retransmitMult, n),
      // Epidemic dissemination: about log base (gossipNodes+1) of n rounds to reach everyone.
      disseminationRounds: round(Math.log(n) / Math.log(LAN.gossipNodes + 1), 1),
    },
    wallSeconds: 0,
    heapMb: round(heapMb),
  }
}

const started = performance.now()
/** Progress on stderr: a 10,000-member run takes minutes. */
function phase (n: number, name: string): void {
  process.stderr.write(`membership-sim: N=${n} ${name} (${round((performance.now() - started) / 1000)} s)\n`)
}

const rows: Row[] = []
for (const n of ns) {
  process.stderr.write(`membership-sim: N=${n}\n`)
  rows.push(measure(n))
}
await keep('membership-sim', options, { preset: 'LAN', rows: Object.fromEntries(rows.map(r => [`n${r.n}`, r])) }, rows.map(r =>
  `N=${r.n}: join to 99.9% in ${r.joinRounds} rounds (log4 N ${r.predicted.disseminationRounds}), failure first ${r.failureFirstMs} ms 99.9% ${r.failureAllMs} ms (suspicion ${r.predicted.suspicionMinMs}-${r.predicted.suspicionMaxMs}), leave 99.9% ${r.leaveMs} ms all ${r.leaveAllMs ?? '>10000'} ms, ${r.messagesPerMemberPerSecond} msg/member/s, false positives ${Object.entries(r.falsePositives).map(([k, v]) => `${k}=${v ?? 'not run'}`).join(' ')}`,
).join('; '))
