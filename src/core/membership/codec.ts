import { encode } from 'cborg'
import { decodeStrictMap, DroppedMessageError } from '../wire/strict-cbor.js'
import type { MemberState, Message, PushPullState, Update } from './messages.js'

/** Bumped when the wire format changes; other versions are dropped (and counted). */
export const WIRE_VERSION = 1

export interface CodecLimits {
  /** Largest encoded message, bytes. Push-pull carries every member, so it is the one that grows. */
  maxMessageBytes: number
  /** Largest node meta, bytes. */
  maxMetaBytes: number
  /** Most updates in one gossip message. */
  maxUpdates: number
  /** Most member states in one push-pull. */
  maxStates: number
}

export const DEFAULT_LIMITS: Readonly<CodecLimits> = Object.freeze({
  maxMessageBytes: 8 * 1024 * 1024,
  maxMetaBytes: 512,
  maxUpdates: 64,
  maxStates: 100_000,
})

const STATES: readonly MemberState[] = ['alive', 'suspect', 'failed', 'left']
/** libp2p peer ids in text form are about 52 characters; anything far longer is not an id. */
const MAX_ID = 128

export function encodeMessage (message: Message): Uint8Array {
  return encode({ v: WIRE_VERSION, m: message })
}

function malformed (what: string): never {
  throw new DroppedMessageError('malformed', `Malformed membership message: ${what}.`)
}

function obj (x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) malformed(`${what} is not a map`)
  return x as Record<string, unknown>
}

function id (x: unknown, what: string): string {
  if (typeof x !== 'string' || x.length === 0 || x.length > MAX_ID) malformed(`${what} is not a member id`)
  return x
}

function uint (x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) malformed(`${what} is not a non-negative integer`)
  return x
}

/** Incarnations are 32-bit, as in memberlist (and the member table stores them so). */
function incarnationOf (x: unknown, what: string): number {
  const n = uint(x, what)
  if (n > 0xffffffff) malformed(`${what} is over 2^32 - 1`)
  return n
}

function bytes (x: unknown, max: number, what: string): Uint8Array {
  if (!(x instanceof Uint8Array) || x.byteLength > max) malformed(`${what} is not bytes of at most ${max}`)
  return x
}

function update (x: unknown, limits: CodecLimits): Update {
  const u = obj(x, 'update')
  const node = id(u.node, 'update.node')
  const incarnation = incarnationOf(u.incarnation, 'update.incarnation')
  switch (u.type) {
    case 'alive': return { type: 'alive', node, incarnation, meta: bytes(u.meta, limits.maxMetaBytes, 'alive.meta') }
    case 'suspect': return { type: 'suspect', node, incarnation, from: id(u.from, 'suspect.from') }
    case 'dead': return { type: 'dead', node, incarnation, from: id(u.from, 'dead.from') }
    default: return malformed('unknown update type')
  }
}

function state (x: unknown, limits: CodecLimits): PushPullState {
  const s = obj(x, 'state')
  if (!STATES.includes(s.state as MemberState)) malformed('unknown member state')
  return { node: id(s.node, 'state.node'), incarnation: incarnationOf(s.incarnation, 'state.incarnation'), state: s.state as MemberState, meta: bytes(s.meta, limits.maxMetaBytes, 'state.meta') }
}

/**
 * Decodes and validates a message field by field: a peer may send anything,
 * and only well-formed messages of this version reach the state machine.
 * Throws DroppedMessageError with the reason.
 */
export function decodeMessage (data: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): Message {
  const envelope = decodeStrictMap(data, 'membership message', limits.maxMessageBytes)
  if (envelope.v !== WIRE_VERSION) throw new DroppedMessageError('bad-version', `Membership wire version ${String(envelope.v)} is not ${WIRE_VERSION}.`)
  const m = obj(envelope.m, 'message')
  const updates = (): Update[] => {
    if (!Array.isArray(m.updates) || m.updates.length > limits.maxUpdates) malformed('updates')
    return m.updates.map(u => update(u, limits))
  }
  const piggyback = (): { updates?: Update[] } => m.updates === undefined ? {} : { updates: updates() }
  switch (m.type) {
    case 'ping': return { type: 'ping', seq: uint(m.seq, 'seq'), target: id(m.target, 'target'), ...piggyback() }
    case 'ack': return { type: 'ack', seq: uint(m.seq, 'seq'), ...piggyback() }
    case 'nack': return { type: 'nack', seq: uint(m.seq, 'seq'), ...piggyback() }
    case 'ping-req': return { type: 'ping-req', seq: uint(m.seq, 'seq'), target: id(m.target, 'target'), ...piggyback() }
    case 'gossip': return { type: 'gossip', updates: updates() }
    case 'push-pull': {
      if (!Array.isArray(m.states) || m.states.length > limits.maxStates) malformed('states')
      if (typeof m.join !== 'boolean' || typeof m.reply !== 'boolean') malformed('push-pull flags')
      return { type: 'push-pull', states: m.states.map(s => state(s, limits)), join: m.join, reply: m.reply }
    }
    default: return malformed('unknown message type')
  }
}
