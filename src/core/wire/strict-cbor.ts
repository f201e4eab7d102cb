/**
 * The first line of defence for everything a peer sends: strict CBOR decoding,
 * and one error type whose reason is counted on /metrics, for membership,
 * catalog and transfer messages alike.
 */
import { decode, Tokenizer, type DecodeOptions } from 'cborg'

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
 * Items (strings, numbers, maps, arrays, each a token) one message may hold,
 * by default: a message is decoded whole before anything checks it, and
 * items cost far more in memory than their bytes (4 MiB of empty arrays, one
 * byte each, took a node's heap up by about a hundred MB and its CPU for a
 * quarter of a second). The largest honest messages (a push-pull of a few
 * thousand members, a thousand catalog entries, a guest's ten thousand held
 * keys) hold a few hundred thousand.
 */
export const MAX_ITEMS = 1_000_000

/** cborg's decode defaults (cborg 6, lib/decode.js), which it gives its own tokenizer and not one handed to it. */
const CBORG_DEFAULTS: DecodeOptions = { strict: false, allowIndefinite: true, allowUndefined: true, allowBigInt: true }

/** cborg's tokenizer, stopping past `max` items. */
class CountingTokenizer extends Tokenizer {
  private left: number
  constructor (data: Uint8Array, options: DecodeOptions, max: number) {
    super(data, options)
    this.left = max
  }

  override next (): ReturnType<Tokenizer['next']> {
    if (--this.left < 0) throw new DroppedMessageError('too-large', 'too many items')
    return super.next()
  }
}

/**
 * The first step of reading anything a peer sent (membership messages,
 * catalog messages, mesh control frames): at most `maxBytes` and `maxItems`,
 * strict CBOR (minimal encodings, no duplicate keys; indefinite lengths are
 * taken, as cborg's defaults do), and a map at the top. Throws
 * DroppedMessageError with the reason.
 */
export function decodeStrictMap (data: Uint8Array, what: string, maxBytes = Infinity, maxItems = MAX_ITEMS): Record<string, unknown> {
  if (data.byteLength > maxBytes) throw new DroppedMessageError('too-large', `A ${data.byteLength}-byte ${what} exceeds ${maxBytes} bytes.`)
  let raw: unknown
  try {
    const options: DecodeOptions = { strict: true, rejectDuplicateMapKeys: true, useMaps: false }
    // Only where the items could be more than the cap: one takes at least a byte. The tokenizer gets the options
    // cborg's own would (its defaults under ours): it reads them, and a message must not decode one way when small
    // and another when large.
    raw = decode(data, data.byteLength <= maxItems ? options : { ...options, tokenizer: new CountingTokenizer(data, { ...CBORG_DEFAULTS, ...options }, maxItems) })
  } catch (err) {
    if (err instanceof DroppedMessageError) throw new DroppedMessageError('too-large', `A ${what} holds more than ${maxItems} items.`)
    throw new DroppedMessageError('not-cbor', `Not a CBOR ${what}: ${err instanceof Error ? err.message : String(err)}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) throw new DroppedMessageError('malformed', `Malformed ${what}: it is not a map.`)
  return raw as Record<string, unknown>
}
