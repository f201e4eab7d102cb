/**
 * The first line of defence for everything a peer sends: strict CBOR decoding,
 * and one error type whose reason is counted on /metrics, for membership,
 * catalog and transfer messages alike.
 */
import { decode } from 'cborg'

/** Why a message was dropped: each reason is a counter on /metrics. */
export type DropReason = 'too-large' | 'not-cbor' | 'bad-version' | 'malformed' | 'not-sealed' | 'wrong-key'

/** A message from a peer that was refused before anything acted on it. */
export class DroppedMessageError extends Error {
  static override name = 'DroppedMessageError'
  constructor (readonly reason: DropReason, message: string) {
    super(message)
    this.name = 'DroppedMessageError'
  }
}

/** A zero count for every drop reason, for a component's stats. */
export function dropCounts (): Record<DropReason, number> {
  return { 'too-large': 0, 'not-cbor': 0, 'bad-version': 0, malformed: 0, 'not-sealed': 0, 'wrong-key': 0 }
}

/**
 * The first step of reading anything a peer sent (membership messages,
 * catalog messages, mesh control frames): at most `maxBytes`, strict CBOR
 * (no duplicate keys, no indefinite lengths), and a map at the top. Throws
 * DroppedMessageError with the reason.
 */
export function decodeStrictMap (data: Uint8Array, what: string, maxBytes = Infinity): Record<string, unknown> {
  if (data.byteLength > maxBytes) throw new DroppedMessageError('too-large', `A ${data.byteLength}-byte ${what} exceeds ${maxBytes} bytes.`)
  let raw: unknown
  try {
    raw = decode(data, { strict: true, rejectDuplicateMapKeys: true, useMaps: false })
  } catch (err) {
    throw new DroppedMessageError('not-cbor', `Not a CBOR ${what}: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) throw new DroppedMessageError('malformed', `Malformed ${what}: it is not a map.`)
  return raw as Record<string, unknown>
}
