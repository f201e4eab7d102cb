/** Membership messages. The transport frames, seals and strictly decodes them; the state machine sees these. */

export type MemberState = 'alive' | 'suspect' | 'failed' | 'left'

/**
 * Probe messages carry queued updates along (memberlist piggybacks them on
 * every packet): dissemination rides on the failure detector's own traffic.
 */
interface Piggyback { updates?: Update[] }

/** Direct probe. `target` lets a member drop probes meant for an id it no longer has. */
export interface Ping extends Piggyback { type: 'ping', seq: number, target: string }
export interface Ack extends Piggyback { type: 'ack', seq: number }
/** Sent by an indirect prober that got no ack: tells the requester the path to it works (Lifeguard). */
export interface Nack extends Piggyback { type: 'nack', seq: number }
export interface PingReq extends Piggyback { type: 'ping-req', seq: number, target: string }

/** Updates that are disseminated (gossiped) and retransmitted. */
export interface Alive { type: 'alive', node: string, incarnation: number, meta: Uint8Array }
export interface Suspect { type: 'suspect', node: string, incarnation: number, from: string }
/** `from === node` means the member left on purpose. */
export interface Dead { type: 'dead', node: string, incarnation: number, from: string }
export type Update = Alive | Suspect | Dead

/** A batch of updates (memberlist's compound message). */
export interface Gossip { type: 'gossip', updates: Update[] }

export interface PushPullState { node: string, incarnation: number, state: MemberState, meta: Uint8Array }
/** Full-state exchange; the receiver answers a request with its own state. */
export interface PushPull { type: 'push-pull', states: PushPullState[], join: boolean, reply: boolean }

export type Message = Ping | Ack | Nack | PingReq | Gossip | PushPull

/** What the state machine asks its transport to do. */
export interface Send { to: string, message: Message }
