import { TypedEventEmitter } from 'main-event'
import { bytesEqual } from '../hashes.js'
import { Awareness } from './awareness.js'
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js'
import { MAX_UPDATES_PER_MESSAGE, PIGGYBACK_UPDATES, PUSH_PULL_SCALE_THRESHOLD, type MembershipConfig } from './config.js'
import type { MemberEventName, MemberInfo, MembershipCounters, MembershipEvents } from './member-events.js'
import type { Alive, Dead, Message, PushPullState, Suspect, Update } from './messages.js'
import { Prober } from './prober.js'
import { MemberIds, MemberTable, type MemberView, type Slot } from './member-table.js'
import { Suspicion, suspicionTimeout } from './suspicion.js'

export interface MembershipOptions {
  /** This member's id (its libp2p peer id). */
  id: string
  meta?: Uint8Array
  config: MembershipConfig
  /** The clock, in ms. Real time on a network, virtual time in the simulator. */
  now: () => number
  /** Uniform randomness in [0, 1). Seeded in tests and the simulator. */
  random: () => number
  /** Hands a message to the transport. */
  send: (to: string, message: Message) => void
  /** Id-to-slot table to share with other members in this process (the simulator passes one to all). */
  ids?: MemberIds
}


/**
 * SWIM membership with Lifeguard, as HashiCorp memberlist does it, as a state
 * machine: inputs are received messages and clock ticks, outputs are messages
 * (through `send`) and member events. It does no I/O and reads no clock or
 * randomness of its own, so the same code runs over libp2p, in unit tests and
 * in the discrete-event simulator.
 */
export class Membership extends TypedEventEmitter<MembershipEvents> {
  readonly id: string
  readonly config: MembershipConfig
  readonly awareness: Awareness
  readonly counters: MembershipCounters = { probes: 0, failedProbes: 0, suspicions: 0, refutations: 0 }
  private readonly members: MemberTable
  private readonly broadcasts = new BroadcastQueue()
  /** Updates this member originated (about itself, or suspicions and deaths it raised), for a pubsub transport. */
  private originated: Update[] = []
  private readonly prober: Prober
  private leaving = false
  private nextGossipAt: number
  private nextPushPullAt: number
  private nextReconnectAt: number

  constructor (private readonly options: MembershipOptions) {
    super()
    this.id = options.id
    this.config = options.config
    this.awareness = new Awareness(options.config.awarenessMaxMultiplier)
    this.members = new MemberTable(options.id, options.now, options.random, options.ids)
    this.prober = new Prober(this, { ...options, send: (to, message) => { options.send(to, this.piggyback(message)) } })
    const now = options.now()
    this.nextGossipAt = now + options.random() * options.config.gossipIntervalMs
    // Staggered, as memberlist staggers its push-pull timer, so members started together do not sync together.
    this.nextPushPullAt = now + options.random() * this.pushPullInterval()
    this.nextReconnectAt = now + options.config.reconnectIntervalMs
    const meta = options.meta ?? new Uint8Array(0)
    this.checkMeta(meta)
    this.aliveNode({ type: 'alive', node: this.id, incarnation: 0, meta })
  }

  // ---- inputs ----

  receive (from: string, message: Message): void {
    switch (message.type) {
      case 'ping': case 'ack': case 'nack': case 'ping-req':
        if (message.updates !== undefined) for (const u of message.updates) this.apply(u)
        this.prober.receive(from, message)
        return
      case 'gossip':
        for (const u of message.updates) this.apply(u)
        return
      case 'push-pull':
        this.merge(message.states)
        if (!message.reply) this.options.send(from, { type: 'push-pull', states: this.localState(), join: false, reply: true })
    }
  }

  /** Runs whatever is due on the clock: probes, suspicion timeouts, gossip, push-pull, forgetting the long dead. */
  tick (): void {
    const now = this.options.now()
    if (this.members.suspicions.size > 0) for (const [s, suspicion] of [...this.members.suspicions]) {
      if (now >= suspicion.deadline()) {
        this.members.clearSuspicion(s)
        this.deadNode({ type: 'dead', node: this.members.id(s), incarnation: this.members.incarnation(s), from: this.id })
      }
    }
    this.prober.tick(now)
    if (this.config.gossipIntervalMs > 0 && now >= this.nextGossipAt) {
      this.gossip()
      this.nextGossipAt = now + this.config.gossipIntervalMs
    }
    if (this.config.pushPullIntervalMs > 0 && now >= this.nextPushPullAt) {
      const target = this.randomMembers(1, m => m.state === 'alive')[0]
      if (target !== undefined) this.options.send(target, { type: 'push-pull', states: this.localState(), join: false, reply: false })
      this.nextPushPullAt = now + this.pushPullInterval()
    }
    if (this.config.reconnectIntervalMs > 0 && now >= this.nextReconnectAt) {
      // A failed member may be reachable again (a partition healed): a push-pull lets it refute.
      // As in Serf, each member tries with chance failed/alive, so the cluster as a whole makes
      // about one attempt per failed member per interval, not one per member (10,000 full states).
      const failed = [...this.members.departed].filter(s => this.members.state(s) === 'failed')
      const target = failed[Math.floor(this.options.random() * failed.length)]
      const chance = failed.length / Math.max(1, this.members.live - 1)
      if (target !== undefined && this.options.random() < chance) this.options.send(this.members.id(target), { type: 'push-pull', states: this.localState(), join: true, reply: false })
      this.nextReconnectAt = now + this.config.reconnectIntervalMs
    }
    for (const s of this.members.departed) {
      const age = now - this.members.stateChangeMs(s)
      const state = this.members.state(s)
      if ((state === 'left' && age > this.config.gossipToTheDeadMs) || (state === 'failed' && age > this.config.reconnectTimeoutMs)) this.members.forget(s)
    }
  }

  /** The earliest time `tick` has work to do (for simulators that jump in time). */
  nextWakeup (): number {
    let t = this.prober.nextWakeup()
    if (this.config.gossipIntervalMs > 0) t = Math.min(t, this.nextGossipAt)
    if (this.config.pushPullIntervalMs > 0) t = Math.min(t, this.nextPushPullAt)
    if (this.config.reconnectIntervalMs > 0) t = Math.min(t, this.nextReconnectAt)
    for (const suspicion of this.members.suspicions.values()) t = Math.min(t, suspicion.deadline())
    return t
  }

  /** Starts full-state exchanges with known members (seeds) to join their cluster. */
  join (seeds: string[]): void {
    for (const seed of seeds) {
      if (seed !== this.id) this.options.send(seed, { type: 'push-pull', states: this.localState(), join: true, reply: false })
    }
  }

  /**
   * Leaves on purpose: others mark this member "left", never "failed". Gossip
   * alone may miss a member (a small cluster retransmits an update only a
   * couple of times), and a member that misses it would see the stopped
   * process fail; so every live member is also told directly, once.
   */
  leave (): void {
    this.leaving = true
    const update: Dead = { type: 'dead', node: this.id, incarnation: this.members.incarnation(this.members.self), from: this.id }
    this.deadNode(update)
    for (const s of this.members.slots()) {
      if (s !== this.members.self && this.members.isLive(s)) this.options.send(this.members.id(s), { type: 'gossip', updates: [update] })
    }
    this.gossip()
  }

  /**
   * Takes the members of a formed cluster as known and alive, as a join's
   * push-pull would, but raising no events and queueing no gossip: for
   * simulators that start from a formed cluster (forming 10,000 members by
   * joins costs each member 10,000 join updates, times the retransmit limit).
   */
  assumeFormed (members: ReadonlyArray<{ node: string, incarnation: number, meta: Uint8Array }>): void {
    for (const a of members) {
      if (this.members.slot(a.node) !== undefined) continue
      // Not added to the probe order one by one: the next round's shuffle takes them all.
      this.members.add(a.node, a.incarnation, a.meta, 'alive')
    }
    this.nextPushPullAt = this.options.now() + this.options.random() * this.pushPullInterval()
  }

  /** Changes this member's meta and spreads it. */
  updateMeta (meta: Uint8Array): void {
    this.checkMeta(meta)
    const self = this.members.self
    this.members.setIncarnation(self, this.members.incarnation(self) + 1)
    this.members.setMeta(self, meta)
    this.spread({ type: 'alive', node: this.id, incarnation: this.members.incarnation(self), meta })
    this.emit('member:update', self)
  }

  /** Queued updates, for a transport that disseminates them itself instead of gossip rounds. */
  takeUpdates (max = MAX_UPDATES_PER_MESSAGE): Update[] {
    return this.broadcasts.take(max, retransmitLimit(this.config.retransmitMult, this.estimatedSize()))
  }

  /**
   * Updates this member originated since the last call, oldest first: what a
   * publish/subscribe transport (gossipsub) publishes. Everything else arrived
   * that way already, so republishing it would only multiply the traffic.
   */
  takeOriginated (): Update[] {
    const out = this.originated
    this.originated = []
    return out
  }

  // ---- queries ----

  list (): MemberInfo[] {
    return [...this.members.slots()].map(s => this.info(s))
  }

  get (id: string): MemberInfo | undefined {
    const s = this.members.slot(id)
    return s === undefined ? undefined : this.info(s)
  }

  /** Members that are alive or suspect, this one included: the n in SWIM's formulas. */
  estimatedSize (): number {
    return this.members.live
  }

  /** Every other member's id (a copy), in no particular order. */
  otherIds (): string[] {
    return this.members.otherIds()
  }

  /** Up to `count` distinct random other members that pass `filter`. */
  randomMembers (count: number, filter: (m: MemberView) => boolean): string[] {
    return this.members.pick(count, filter)
  }

  // ---- the rules (memberlist state.go) ----

  /** Called by the prober when a direct probe was answered. */
  recordRtt (id: string, ms: number): void {
    const s = this.members.slot(id)
    if (s !== undefined) this.members.setRtt(s, ms)
  }

  /** Called by the prober when a member did not answer a direct or an indirect probe. */
  suspectAfterProbe (id: string): void {
    const s = this.members.slot(id)
    if (s !== undefined) this.suspectNode({ type: 'suspect', node: id, incarnation: this.members.incarnation(s), from: this.id })
  }

  /** Queues an update for dissemination, noting the ones this member originated. */
  private spread (u: Update): void {
    this.broadcasts.queue(u)
    if (u.type === 'alive' ? u.node === this.id : u.from === this.id) this.originated.push(u)
  }

  private apply (u: Update): void {
    if (u.type === 'alive') this.aliveNode(u)
    else if (u.type === 'suspect') this.suspectNode(u)
    else this.deadNode(u)
  }

  private aliveNode (a: Alive): void {
    const t = this.members
    const isSelf = a.node === this.id
    if (isSelf && this.leaving) return
    let m = t.slot(a.node)
    const isNew = m === undefined
    if (m === undefined) {
      m = t.add(a.node, a.incarnation, a.meta)
      this.prober.add(a.node)
    } else {
      // Old news, unless about ourselves (someone may carry stale meta of ours).
      if (a.incarnation <= t.incarnation(m) && !isSelf) return
      if (a.incarnation < t.incarnation(m) && isSelf) return
    }
    t.clearSuspicion(m)
    if (isSelf && !isNew) {
      if (a.incarnation === t.incarnation(m) && bytesEqual(a.meta, t.meta(m))) return
      // Someone spreads a view of us we did not send: refute it.
      this.refute(m, a.incarnation)
      return
    }
    this.spread(a)
    const wasLive = t.isLive(m)
    const metaChanged = !bytesEqual(t.meta(m), a.meta)
    const wasSuspect = t.state(m) === 'suspect'
    t.setIncarnation(m, a.incarnation)
    t.setMeta(m, a.meta)
    if (t.state(m) !== 'alive') t.setState(m, 'alive')
    if (isNew || !wasLive) this.emit('member:join', m)
    else if (metaChanged || wasSuspect) this.emit('member:update', m)
  }

  private suspectNode (s: Suspect): void {
    const t = this.members
    const m = t.slot(s.node)
    if (m === undefined || s.incarnation < t.incarnation(m)) return
    const running = t.suspicion(m)
    if (running !== undefined) {
      // Another member agrees: Lifeguard shortens the timeout, and the news is worth passing on.
      if (running.confirm(s.from)) this.spread(s)
      return
    }
    if (t.state(m) !== 'alive') return
    if (s.node === this.id) {
      this.refute(m, s.incarnation, s.from)
      return
    }
    this.spread(s)
    // Gossip reaches the accused with chance 1/n a message, and a member that
    // never hears it cannot refute: the member whose probe failed tells it
    // directly too (one message per suspicion raised).
    if (s.from === this.id) this.options.send(s.node, { type: 'gossip', updates: [s] })
    t.setIncarnation(m, s.incarnation)
    t.setState(m, 'suspect')
    const now = this.options.now()
    const n = this.estimatedSize()
    let k = this.config.suspicionMult - 2
    if (n - 2 < k) k = 0
    const min = suspicionTimeout(this.config.suspicionMult, n, this.config.probeIntervalMs)
    t.startSuspicion(m, new Suspicion(s.from, k, min, this.config.suspicionMaxTimeoutMult * min, now))
    this.counters.suspicions++
    this.emit('member:suspect', m)
  }

  private deadNode (d: Dead): void {
    const t = this.members
    const m = t.slot(d.node)
    if (m === undefined || d.incarnation < t.incarnation(m)) return
    t.clearSuspicion(m)
    if (!t.isLive(m)) return
    if (d.node === this.id && !this.leaving) {
      this.refute(m, d.incarnation, d.from)
      return
    }
    this.spread(d)
    t.setIncarnation(m, d.incarnation)
    const next = d.node === d.from ? 'left' : 'failed'
    t.setState(m, next)
    this.emit(next === 'left' ? 'member:leave' : 'member:failed', m)
  }

  /** Answers an accusation about ourselves with a higher incarnation, spread and sent straight to the accuser. */
  private refute (self: Slot, accused: number, accuser?: string): void {
    const incarnation = Math.max(this.members.incarnation(self), accused) + 1
    this.members.setIncarnation(self, incarnation)
    this.counters.refutations++
    // Being accused means others could not reach us in time: we may be the slow one.
    this.awareness.applyDelta(1)
    const alive: Alive = { type: 'alive', node: this.id, incarnation, meta: this.members.meta(self) }
    this.spread(alive)
    if (accuser !== undefined && accuser !== this.id) this.options.send(accuser, { type: 'gossip', updates: [alive] })
  }

  private merge (states: PushPullState[]): void {
    for (const s of states) {
      if (s.state === 'alive') this.aliveNode({ type: 'alive', node: s.node, incarnation: s.incarnation, meta: s.meta })
      else if (s.state === 'left') this.deadNode({ type: 'dead', node: s.node, incarnation: s.incarnation, from: s.node })
      // A member failed elsewhere is only suspected here, so that it gets a chance to refute.
      else this.suspectNode({ type: 'suspect', node: s.node, incarnation: s.incarnation, from: this.id })
    }
  }

  /** Adds queued updates to a probe message, as memberlist does with every packet it sends. */
  private piggyback (message: Message): Message {
    if (message.type === 'gossip' || message.type === 'push-pull' || this.broadcasts.size === 0) return message
    const updates = this.broadcasts.take(PIGGYBACK_UPDATES, retransmitLimit(this.config.retransmitMult, this.estimatedSize()))
    return updates.length === 0 ? message : { ...message, updates }
  }

  private gossip (): void {
    if (this.broadcasts.size === 0) return
    const now = this.options.now()
    const targets = this.randomMembers(this.config.gossipNodes, m =>
      m.state === 'alive' || m.state === 'suspect' || now - m.stateChangeMs < this.config.gossipToTheDeadMs)
    const limit = retransmitLimit(this.config.retransmitMult, this.estimatedSize())
    for (const to of targets) {
      const updates = this.broadcasts.take(MAX_UPDATES_PER_MESSAGE, limit)
      if (updates.length === 0) return
      this.options.send(to, { type: 'gossip', updates })
    }
  }

  private localState (): PushPullState[] {
    const t = this.members
    return [...t.slots()].map(s => ({ node: t.id(s), incarnation: t.incarnation(s), state: t.state(s), meta: t.meta(s) }))
  }

  private pushPullInterval (): number {
    const n = Math.max(1, this.members.size)
    const scale = n <= PUSH_PULL_SCALE_THRESHOLD ? 1 : Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1
    return this.config.pushPullIntervalMs * scale
  }

  private checkMeta (meta: Uint8Array): void {
    if (meta.byteLength > this.config.maxMetaBytes) throw new RangeError(`Node meta is ${meta.byteLength} bytes; at most ${this.config.maxMetaBytes} are allowed.`)
  }

  private info (s: Slot): MemberInfo {
    const t = this.members
    const rtt = t.rtt(s)
    return { id: t.id(s), state: t.state(s), incarnation: t.incarnation(s), meta: t.meta(s), stateChangeMs: t.stateChangeMs(s), self: s === t.self, ...(rtt !== undefined ? { rttMs: rtt } : {}) }
  }

  private emit (name: MemberEventName, m: Slot): void {
    this.safeDispatchEvent(name, { detail: this.info(m) })
  }
}
