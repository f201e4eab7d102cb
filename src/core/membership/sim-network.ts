import type { MembershipConfig } from './config.js'
import { MemberIds } from './member-table.js'
import { MEMBER_EVENTS, type MemberEventName, type MemberInfo } from './member-events.js'
import { Membership } from './membership.js'
import type { Message } from './messages.js'

/** A small, fast seeded PRNG (mulberry32): the same seed gives the same run. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface SimEvent { at: number, order: number, run: () => void }

/** A binary min-heap of events by (time, insertion order). */
class EventQueue {
  private readonly heap: SimEvent[] = []
  get size (): number { return this.heap.length }
  push (e: SimEvent): void {
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  pop (): SimEvent | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l]!, h[m]!)) m = l
        if (r < h.length && before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }

  peek (): SimEvent | undefined { return this.heap[0] }
}

function before (a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order)
}

export interface SimNetworkOptions {
  config: MembershipConfig
  seed?: number
  /** One-way latency of a message, ms. */
  latency?: (random: () => number) => number
  /** Share of messages lost, 0..1. */
  loss?: number
}

export interface SimMember {
  membership: Membership
  up: boolean
  /** Extra delay, ms, before this member handles anything: a slow or overloaded process. */
  slowMs: number
  scheduledTick: number
}


export interface RecordedEvent { at: number, observer: string, name: MemberEventName, member: MemberInfo }

/**
 * A discrete-event network for Membership: virtual time, seeded randomness,
 * latency, loss, partitions, crashed and slow members. memberlist tests with a
 * mock transport; this goes further and is also what bench/membership-sim runs.
 */
export class SimNetwork {
  now = 0
  readonly members = new Map<string, SimMember>()
  readonly events: RecordedEvent[] = []
  /**
   * Which member events go into `events`. Not all of them at scale: forming
   * 10,000 members is 10^8 joins, and at 20% loss each of hundreds of
   * suspicions a second reaches every member.
   */
  recording: ReadonlySet<MemberEventName> = new Set(MEMBER_EVENTS)
  messagesSent = 0
  private readonly queue = new EventQueue()
  /** One id table for every member: each id string once, and member tables as typed-array columns. */
  private readonly ids = new MemberIds()
  private order = 0
  private readonly random: () => number
  private readonly latency: (random: () => number) => number
  loss: number
  /** Members in different groups cannot reach each other; members in no group reach everyone. */
  private groups = new Map<string, number>()

  constructor (private readonly options: SimNetworkOptions) {
    this.random = seededRandom(options.seed ?? 1)
    this.latency = options.latency ?? (r => 1 + r() * 4)
    this.loss = options.loss ?? 0
  }

  /** Adds a member (and starts its clock); `join` contacts these seeds. */
  add (id: string, options: { join?: string[], slowMs?: number, meta?: Uint8Array } = {}): Membership {
    const membership = new Membership({
      id, meta: options.meta, config: this.options.config, now: () => this.now,
      random: seededRandom(Math.floor(this.random() * 2 ** 32)),
      send: (to, message) => { this.send(id, to, message) },
      ids: this.ids,
    })
    for (const name of MEMBER_EVENTS) {
      membership.addEventListener(name, e => {
        if (this.recording.has(name)) this.events.push({ at: this.now, observer: id, name, member: e.detail })
      })
    }
    const sim: SimMember = { membership, up: true, slowMs: options.slowMs ?? 0, scheduledTick: Infinity }
    this.members.set(id, sim)
    this.at(this.now, () => {
      membership.join(options.join ?? [])
      this.reschedule(sim)
    })
    return membership
  }

  /**
   * Adds members that already form a cluster: each knows every other as
   * alive (incarnation 0), as after joining and settling, without the
   * O(n^2) join traffic that forming a large cluster by joins costs.
   */
  addFormed (ids: string[], options: { slowMs?: (id: string) => number } = {}): void {
    const meta = new Uint8Array(0)
    const everyone = ids.map(node => ({ node, incarnation: 0, meta }))
    for (const id of ids) {
      this.add(id, { meta, slowMs: options.slowMs?.(id) })
      this.members.get(id)!.membership.assumeFormed(everyone)
    }
  }

  /** Stops a member dead: it sends, receives and ticks nothing more (kill -9). */
  crash (id: string): void {
    this.members.get(id)!.up = false
  }

  /** A crashed member's process starts again with the same id and no memory (incarnation 0), joining through `join`. */
  restart (id: string, join: string[]): Membership {
    const old = this.members.get(id)!
    old.up = false
    this.members.delete(id)
    return this.add(id, { join, slowMs: old.slowMs })
  }

  /** Puts each list of members in its own partition. */
  partition (...groups: string[][]): void {
    this.groups = new Map()
    groups.forEach((g, i) => { for (const id of g) this.groups.set(id, i) })
  }

  heal (): void {
    this.groups = new Map()
  }

  /** Runs events until virtual time `untilMs` (absolute). */
  runUntil (untilMs: number): void {
    for (;;) {
      const next = this.queue.peek()
      if (next === undefined || next.at > untilMs) break
      this.queue.pop()
      this.now = next.at
      next.run()
    }
    this.now = untilMs
  }

  run (forMs: number): void {
    this.runUntil(this.now + forMs)
  }

  /** What `observer` believes about `subject`. */
  stateOf (observer: string, subject: string): string | undefined {
    return this.members.get(observer)!.membership.get(subject)?.state
  }

  private at (time: number, run: () => void): void {
    this.queue.push({ at: time, order: this.order++, run })
  }

  private send (from: string, to: string, message: Message): void {
    const sender = this.members.get(from)
    if (sender === undefined || !sender.up) return
    this.messagesSent++
    if (this.loss > 0 && this.random() < this.loss) return
    const a = this.groups.get(from)
    const b = this.groups.get(to)
    if (a !== undefined && b !== undefined && a !== b) return
    const receiver = this.members.get(to)
    if (receiver === undefined) return
    this.at(this.now + this.latency(this.random) + receiver.slowMs, () => {
      if (!receiver.up) return
      receiver.membership.receive(from, message)
      this.reschedule(receiver)
    })
  }

  /** Schedules the member's next tick at its next wakeup, if that is sooner than the one already scheduled. */
  private reschedule (sim: SimMember): void {
    const wake = Math.max(this.now, sim.membership.nextWakeup()) + sim.slowMs
    if (wake >= sim.scheduledTick) return
    sim.scheduledTick = wake
    this.at(wake, () => {
      if (sim.scheduledTick !== wake) return
      sim.scheduledTick = Infinity
      if (!sim.up) return
      sim.membership.tick()
      this.reschedule(sim)
    })
  }
}
