import type { MemberState } from './messages.js'
import type { Suspicion } from './suspicion.js'

/** What a member knows about another (internal; MemberInfo is the public view). */
export interface Member {
  id: string
  incarnation: number
  state: MemberState
  meta: Uint8Array
  stateChangeMs: number
  suspicion?: Suspicion
}

/**
 * The members one member knows, indexed so that the protocol's periodic work
 * does not grow with the cluster: a live count, the (few) suspected and
 * departed members as sets, and other members' ids in an array for O(1)
 * random picks and removals.
 */
export class MemberTable {
  private readonly byId = new Map<string, Member>()
  /** Other members' ids; `slot` finds an id's index for O(1) removal. */
  private readonly others: string[] = []
  private readonly slot = new Map<string, number>()
  /** Members with a suspicion timer running. */
  readonly suspected = new Set<Member>()
  /** Members failed or left. */
  readonly departed = new Set<Member>()
  private liveCount = 0

  constructor (private readonly selfId: string, private readonly now: () => number, private readonly random: () => number) {}

  get size (): number { return this.byId.size }
  /** Alive and suspect members, this one included. */
  get live (): number { return this.liveCount }
  get (id: string): Member | undefined { return this.byId.get(id) }
  has (id: string): boolean { return this.byId.has(id) }
  values (): IterableIterator<Member> { return this.byId.values() }

  /** Every other member's id (a copy), in no particular order. */
  otherIds (): string[] {
    return this.others.slice()
  }

  /** Adds a member not seen before; it starts as failed until a state is set. */
  add (id: string, incarnation: number, meta: Uint8Array): Member {
    const m: Member = { id, incarnation, state: 'failed', meta, stateChangeMs: this.now() }
    this.byId.set(id, m)
    this.departed.add(m)
    if (id !== this.selfId) {
      this.slot.set(id, this.others.length)
      this.others.push(id)
    }
    return m
  }

  /** Changes a member's state, keeping the live count and the departed set in step. */
  setState (m: Member, state: MemberState): void {
    const wasLive = m.state === 'alive' || m.state === 'suspect'
    const isLive = state === 'alive' || state === 'suspect'
    if (wasLive && !isLive) { this.liveCount--; this.departed.add(m) }
    if (!wasLive && isLive) { this.liveCount++; this.departed.delete(m) }
    m.state = state
    m.stateChangeMs = this.now()
  }

  startSuspicion (m: Member, suspicion: Suspicion): void {
    m.suspicion = suspicion
    this.suspected.add(m)
  }

  clearSuspicion (m: Member): void {
    m.suspicion = undefined
    this.suspected.delete(m)
  }

  /** Drops a long-departed member entirely. */
  forget (m: Member): void {
    this.byId.delete(m.id)
    this.departed.delete(m)
    this.clearSuspicion(m)
    const i = this.slot.get(m.id)
    if (i === undefined) return
    const last = this.others.pop()!
    if (last !== m.id) {
      this.others[i] = last
      this.slot.set(last, i)
    }
    this.slot.delete(m.id)
  }

  /**
   * Up to `count` distinct random other members that pass `filter`. Samples
   * by index, so a pick costs about `count` lookups however large the cluster;
   * falls back to a scan when few members pass.
   */
  pick (count: number, filter: (m: Readonly<Member>) => boolean): string[] {
    const chosen = new Set<string>()
    const n = this.others.length
    for (let tries = 0; tries < count * 4 + 8 && chosen.size < count && n > 0; tries++) {
      const id = this.others[Math.floor(this.random() * n)]!
      if (!chosen.has(id) && filter(this.byId.get(id)!)) chosen.add(id)
    }
    if (chosen.size < count) {
      const rest = this.others.filter(id => !chosen.has(id) && filter(this.byId.get(id)!))
      while (chosen.size < count && rest.length > 0) chosen.add(rest.splice(Math.floor(this.random() * rest.length), 1)[0]!)
    }
    return [...chosen]
  }
}
