import type { MemberState } from './messages.js'

/*
 * What a Membership tells the world: each member as it is now, the events a
 * member hears (join, update, suspect, failed, leave), and its counters.
 * Transports, the object mesh, the console and tests listen for these.
 */

export interface MemberInfo {
  id: string
  state: MemberState
  incarnation: number
  meta: Uint8Array
  /** When the member last changed state, on the injected clock. */
  stateChangeMs: number
  self: boolean
  /** Round trip of the last direct probe that was answered, ms. */
  rttMs?: number
}

/** Counters for /metrics. */
export interface MembershipCounters {
  probes: number
  failedProbes: number
  suspicions: number
  refutations: number
}

/** What a member hears about the others (and itself), each with the member as it is now. */
export interface MembershipEvents {
  'member:join': CustomEvent<MemberInfo>
  'member:update': CustomEvent<MemberInfo>
  'member:suspect': CustomEvent<MemberInfo>
  'member:failed': CustomEvent<MemberInfo>
  'member:leave': CustomEvent<MemberInfo>
}

export type MemberEventName = keyof MembershipEvents

/** Every member event, for listeners that follow them all. */
export const MEMBER_EVENTS: readonly MemberEventName[] = ['member:join', 'member:update', 'member:suspect', 'member:failed', 'member:leave']
