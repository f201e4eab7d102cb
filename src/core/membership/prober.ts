import type { Membership, MembershipOptions } from './membership.js'
import type { Ack, Nack, Ping, PingReq } from './messages.js'

interface Probe {
  seq: number
  target: string
  startedAt: number
  /** When the direct ping counts as missed and indirect probes go out. */
  directDeadline: number
  /** When the whole probe counts as failed (one probe interval). */
  finalDeadline: number
  indirect: boolean
  expectedNacks: number
  nacks: number
}

/** A ping we send for another member's ping-req. */
interface Relay { requester: string, requesterSeq: number, deadline: number }

/**
 * The failure detector's probe loop (memberlist probeNode): one member per
 * probe interval in shuffled round robin; a direct ping; after the probe
 * timeout, ping-reqs through `indirectChecks` others, who answer ack or nack;
 * at the end of the interval, suspicion. Both timeouts are stretched by the
 * local health score, and the score moves with how the probe went.
 */
export class Prober {
  private order: string[] = []
  private index = 0
  private seq = 0
  private probe: Probe | undefined
  private readonly relays = new Map<number, Relay>()
  private nextProbeAt: number

  constructor (private readonly membership: Membership, private readonly options: MembershipOptions) {
    this.nextProbeAt = options.now() + options.random() * options.config.probeIntervalMs
  }

  /**
   * A new member joins the round robin at a random place, so new members are
   * not all probed last: swapped with a random entry, which moves to the end
   * (memberlist does the same; a splice would make joins O(n)).
   */
  add (id: string): void {
    if (id === this.options.id) return
    const i = Math.floor(this.options.random() * (this.order.length + 1))
    this.order.push(id)
    ;[this.order[i], this.order[this.order.length - 1]] = [this.order[this.order.length - 1]!, this.order[i]!]
  }

  receive (from: string, message: Ping | Ack | Nack | PingReq): void {
    const { send } = this.options
    switch (message.type) {
      case 'ping':
        // A probe for an id we no longer have (a restarted process) goes unanswered.
        if (message.target === this.options.id) send(from, { type: 'ack', seq: message.seq })
        return
      case 'ping-req': {
        const seq = ++this.seq
        this.relays.set(seq, { requester: from, requesterSeq: message.seq, deadline: this.options.now() + this.options.config.probeTimeoutMs })
        send(message.target, { type: 'ping', seq, target: message.target })
        return
      }
      case 'ack': {
        const relay = this.relays.get(message.seq)
        if (relay !== undefined) {
          this.relays.delete(message.seq)
          send(relay.requester, { type: 'ack', seq: relay.requesterSeq })
          return
        }
        if (this.probe?.seq === message.seq) {
          if (!this.probe.indirect) this.membership.recordRtt(this.probe.target, this.options.now() - this.probe.startedAt)
          this.finish(true)
        }
        return
      }
      case 'nack':
        if (this.probe?.seq === message.seq) this.probe.nacks++
    }
  }

  tick (now: number): void {
    for (const [seq, relay] of this.relays) {
      if (now >= relay.deadline) {
        this.relays.delete(seq)
        this.options.send(relay.requester, { type: 'nack', seq: relay.requesterSeq })
      }
    }
    const p = this.probe
    if (p !== undefined && !p.indirect && now >= p.directDeadline) {
      p.indirect = true
      const helpers = this.membership.randomMembers(this.options.config.indirectChecks, m => m.state === 'alive' && m.id !== p.target)
      p.expectedNacks = helpers.length
      for (const h of helpers) this.options.send(h, { type: 'ping-req', seq: p.seq, target: p.target })
    }
    if (p !== undefined && now >= p.finalDeadline) this.finish(false)
    if (now >= this.nextProbeAt) {
      this.start(now)
      this.nextProbeAt = now + this.membership.awareness.scale(this.options.config.probeIntervalMs)
    }
  }

  nextWakeup (): number {
    let t = this.nextProbeAt
    if (this.probe !== undefined) t = Math.min(t, this.probe.indirect ? this.probe.finalDeadline : this.probe.directDeadline)
    for (const r of this.relays.values()) t = Math.min(t, r.deadline)
    return t
  }

  private start (now: number): void {
    if (this.probe !== undefined) this.finish(false)
    const target = this.nextTarget()
    if (target === undefined) return
    const seq = ++this.seq
    const { awareness } = this.membership
    this.membership.counters.probes++
    this.probe = {
      seq, target, startedAt: now, indirect: false, expectedNacks: 0, nacks: 0,
      directDeadline: now + awareness.scale(this.options.config.probeTimeoutMs),
      finalDeadline: now + awareness.scale(this.options.config.probeIntervalMs),
    }
    this.options.send(target, { type: 'ping', seq, target })
  }

  private finish (acked: boolean): void {
    const p = this.probe!
    this.probe = undefined
    const { awareness } = this.membership
    if (acked) {
      if (!p.indirect) awareness.applyDelta(-1)
      return
    }
    this.membership.counters.failedProbes++
    // Lifeguard: helpers that did not even nack point at us, not at the target.
    awareness.applyDelta(p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1)
    this.membership.suspectAfterProbe(p.target)
  }

  private nextTarget (): string | undefined {
    for (let tries = 0; tries <= this.order.length; tries++) {
      if (this.index >= this.order.length) this.reshuffle()
      const id = this.order[this.index++]
      if (id === undefined) return undefined
      const m = this.membership.get(id)
      if (m !== undefined && (m.state === 'alive' || m.state === 'suspect')) return id
    }
    return undefined
  }

  private reshuffle (): void {
    const order = this.membership.otherIds()
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.options.random() * (i + 1))
      ;[order[i], order[j]] = [order[j]!, order[i]!]
    }
    this.order = order
    this.index = 0
  }
}
