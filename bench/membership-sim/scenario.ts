import { LAN, type MembershipConfig } from '../../src/core/membership/config.js'
import { SimNetwork } from '../../src/core/membership/sim-network.js'

export interface ScenarioOptions {
  n: number
  seed: number
  config?: MembershipConfig
  loss?: number
  /** Share of members that handle everything late (slowMs). */
  slowShare?: number
  slowMs?: number
}

/**
 * A formed cluster of n members on the simulated network: every member knows
 * every other as alive (forming 10,000 by joins would cost O(n^2) messages
 * before the first measurement), then runs a few seconds so that probes and
 * gossip are in their steady rhythm. Events are recorded from then on.
 */
export function formCluster (o: ScenarioOptions): { sim: SimNetwork, ids: string[] } {
  const config = o.config ?? LAN
  const sim = new SimNetwork({ config, seed: o.seed, latency: r => 0.5 + r() * 2.5 })
  const ids = Array.from({ length: o.n }, (_, i) => `node-${i}`)
  const slow = new Set(ids.slice(0, Math.round(o.n * (o.slowShare ?? 0))))
  const recording = sim.recording
  sim.recording = new Set()
  sim.addFormed(ids, { slowMs: id => slow.has(id) ? o.slowMs ?? 0 : 0 })
  sim.run(5_000)
  sim.recording = recording
  sim.loss = o.loss ?? 0
  return { sim, ids }
}

/** When `share` of the observers first reported `event` about `subject` after `since`, in ms after `since`. */
export function reportedBy (sim: SimNetwork, observers: string[], subject: string, event: string, since: number, share: number): number | undefined {
  const firsts = new Map<string, number>()
  for (const e of sim.events) {
    if (e.name !== event || e.member.id !== subject || e.at < since || firsts.has(e.observer)) continue
    firsts.set(e.observer, e.at - since)
  }
  const times = observers.map(o => firsts.get(o)).filter((t): t is number => t !== undefined).sort((a, b) => a - b)
  // 99% of 98 observers is 97 of them; `share` 1 means every one.
  const needed = share >= 1 ? observers.length : Math.max(1, Math.floor(observers.length * share))
  return times.length >= needed ? times[needed - 1] : undefined
}
