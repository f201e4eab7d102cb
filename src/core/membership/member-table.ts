import type { MemberState } from './messages.js'
import type { Suspicion } from './suspicion.js'

/** A member's place in the columns of a MemberTable (from MemberIds). */
export type Slot = number

/** State codes in the state column; 0 means "not known to this table". */
const STATE_CODE: Readonly<Record<MemberState, number>> = { alive: 1, suspect: 2, failed: 3, left: 4 }
const STATE_OF: ReadonlyArray<MemberState | undefined> = [undefined, 'alive', 'suspect', 'failed', 'left']

/**
 * Member ids as small integers, so that member tables can be columns of typed
 * arrays instead of an object and map entries per member. One MemberIds may
 * serve many tables in a process: the simulator keeps 10,000 members' tables
 * (10^8 entries) in one heap, and each id string once. Reference counted, so
 * the slot of a member every table has forgotten is reused: browser tabs come
 * and go with fresh ids, and a long-running relay must not grow with them.
 */
export class MemberIds {
  private readonly ids: Array<string | undefined> = []
  private readonly slots = new Map<string, Slot>()
  private readonly refs: number[] = []
  private readonly free: Slot[] = []

  /** One more than the highest slot handed out: how long a table's columns must be. */
  get capacity (): number { return this.ids.length }

  lookup (id: string): Slot | undefined { return this.slots.get(id) }

  id (slot: Slot): string { return this.ids[slot]! }

  /** The slot for `id`, taking a reference that `release` gives back. */
  acquire (id: string): Slot {
    let s = this.slots.get(id)
    if (s === undefined) {
      s = this.free.pop() ?? this.ids.length
      this.ids[s] = id
      this.refs[s] = 0
      this.slots.set(id, s)
    }
    this.refs[s]!++
    return s
  }

  release (slot: Slot): void {
    if (--this.refs[slot]! > 0) return
    this.slots.delete(this.ids[slot]!)
    this.ids[slot] = undefined
    this.free.push(slot)
  }
}

/** What filters of random picks see of a member. */
export interface MemberView { id: string, state: MemberState, stateChangeMs: number }

/**
 * The members one member knows, as columns indexed by slot (about 40 bytes a
 * member, against 200-odd for an object and its map entries), and indexed so
 * that the protocol's periodic work does not grow with the cluster: a live
 * count, the (few) suspected and departed members, and the other members'
 * slots in a dense array for O(1) random picks and removals.
 */
export class MemberTable {
  private selfSlot: Slot = -1
  /** Suspected members and their running timers. */
  readonly suspicions = new Map<Slot, Suspicion>()
  /** Members failed or left. */
  readonly departed = new Set<Slot>()
  private incarnations = new Uint32Array(0)
  private states = new Uint8Array(0)
  private changedAt = new Float64Array(0)
  /** Round trip of the last answered direct probe, ms; NaN when none. */
  private rtts = new Float32Array(0)
  private metas: Array<Uint8Array | undefined> = []
  /** Index in `others` plus one; 0 when not there. */
  private position = new Int32Array(0)
  private others = new Int32Array(0)
  private otherCount = 0
  private count = 0
  private liveCount = 0

  constructor (
    private readonly selfId: string,
    private readonly now: () => number,
    private readonly random: () => number,
    private readonly ids: MemberIds = new MemberIds(),
  ) {}

  /** This member's own slot (it is added first, by its own alive message). */
  get self (): Slot { return this.selfSlot }

  /** Members known, this one included. */
  get size (): number { return this.count }
  /** Alive and suspect members, this one included. */
  get live (): number { return this.liveCount }

  /** The member's slot, if this table knows it. */
  slot (id: string): Slot | undefined {
    const s = this.ids.lookup(id)
    return s !== undefined && s < this.states.length && this.states[s] !== 0 ? s : undefined
  }

  id (s: Slot): string { return this.ids.id(s) }
  state (s: Slot): MemberState { return STATE_OF[this.states[s]!]! }
  isLive (s: Slot): boolean { const c = this.states[s]!; return c === 1 || c === 2 }
  incarnation (s: Slot): number { return this.incarnations[s]! }
  meta (s: Slot): Uint8Array { return this.metas[s]! }
  stateChangeMs (s: Slot): number { return this.changedAt[s]! }
  rtt (s: Slot): number | undefined { const r = this.rtts[s]!; return Number.isNaN(r) ? undefined : r }

  setIncarnation (s: Slot, incarnation: number): void { this.incarnations[s] = incarnation }
  setMeta (s: Slot, meta: Uint8Array): void { this.metas[s] = meta }
  setRtt (s: Slot, ms: number): void { this.rtts[s] = ms }

  /** Every known member's slot, this one's first. */
  * slots (): IterableIterator<Slot> {
    if (this.selfSlot >= 0) yield this.selfSlot
    for (let i = 0; i < this.otherCount; i++) yield this.others[i]!
  }

  /** Every other member's id, in no particular order. */
  otherIds (): string[] {
    const out = new Array<string>(this.otherCount)
    for (let i = 0; i < this.otherCount; i++) out[i] = this.ids.id(this.others[i]!)
    return out
  }

  /** Adds a member not seen before, failed (until a state is set) unless `state` says otherwise. */
  add (id: string, incarnation: number, meta: Uint8Array, state: MemberState = 'failed'): Slot {
    const s = this.ids.acquire(id)
    this.fit(this.ids.capacity)
    this.incarnations[s] = incarnation
    this.metas[s] = meta
    this.states[s] = STATE_CODE[state]
    this.changedAt[s] = this.now()
    this.rtts[s] = NaN
    if (this.isLive(s)) this.liveCount++
    else this.departed.add(s)
    this.count++
    if (id === this.selfId) {
      this.selfSlot = s
    } else {
      this.others[this.otherCount++] = s
      this.position[s] = this.otherCount
    }
    return s
  }

  /** Changes a member's state, keeping the live count and the departed set in step. */
  setState (s: Slot, state: MemberState): void {
    const wasLive = this.isLive(s)
    const isLive = state === 'alive' || state === 'suspect'
    if (wasLive && !isLive) { this.liveCount--; this.departed.add(s) }
    if (!wasLive && isLive) { this.liveCount++; this.departed.delete(s) }
    this.states[s] = STATE_CODE[state]
    this.changedAt[s] = this.now()
  }

  startSuspicion (s: Slot, suspicion: Suspicion): void { this.suspicions.set(s, suspicion) }
  suspicion (s: Slot): Suspicion | undefined { return this.suspicions.get(s) }
  clearSuspicion (s: Slot): void { this.suspicions.delete(s) }

  /** Drops a long-departed member entirely. */
  forget (s: Slot): void {
    if (s === this.selfSlot) return
    if (this.isLive(s)) this.liveCount--
    this.states[s] = 0
    this.metas[s] = undefined
    this.departed.delete(s)
    this.suspicions.delete(s)
    this.count--
    const i = this.position[s]! - 1
    const last = this.others[--this.otherCount]!
    this.others[i] = last
    this.position[last] = i + 1
    this.position[s] = 0
    this.ids.release(s)
  }

  /**
   * Up to `count` distinct random other members that pass `filter`. Samples
   * by index, so a pick costs about `count` lookups however large the cluster;
   * falls back to a scan when few members pass.
   */
  pick (count: number, filter: (m: MemberView) => boolean): string[] {
    const chosen = new Set<Slot>()
    const n = this.otherCount
    const passes = (s: Slot): boolean => filter({ id: this.ids.id(s), state: this.state(s), stateChangeMs: this.changedAt[s]! })
    for (let tries = 0; tries < count * 4 + 8 && chosen.size < count && n > 0; tries++) {
      const s = this.others[Math.floor(this.random() * n)]!
      if (!chosen.has(s) && passes(s)) chosen.add(s)
    }
    if (chosen.size < count) {
      const rest: Slot[] = []
      for (let i = 0; i < n; i++) {
        const s = this.others[i]!
        if (!chosen.has(s) && passes(s)) rest.push(s)
      }
      while (chosen.size < count && rest.length > 0) chosen.add(rest.splice(Math.floor(this.random() * rest.length), 1)[0]!)
    }
    return [...chosen].map(s => this.ids.id(s))
  }

  /**
   * Grows the columns to hold slots below `capacity`, with room to spare: in
   * a process whose tables share ids, one newcomer grows every table at once.
   */
  private fit (capacity: number): void {
    if (capacity > this.states.length) {
      const size = Math.max(16, Math.ceil(capacity * 1.25), Math.ceil(this.states.length * 1.5))
      this.incarnations = grow(this.incarnations, new Uint32Array(size))
      this.states = grow(this.states, new Uint8Array(size))
      this.changedAt = grow(this.changedAt, new Float64Array(size))
      this.rtts = grow(this.rtts, new Float32Array(size))
      this.position = grow(this.position, new Int32Array(size))
      // Filled, not assigned past the end: a sparse array would fall back to slow dictionary elements.
      while (this.metas.length < size) this.metas.push(undefined)
    }
    if (this.others.length < this.count + 1) this.others = grow(this.others, new Int32Array(Math.max(16, this.others.length * 2)))
  }
}

function grow<T extends Uint8Array | Uint32Array | Int32Array | Float32Array | Float64Array> (old: T, bigger: T): T {
  bigger.set(old as never)
  return bigger
}
