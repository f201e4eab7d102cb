import { noise, type NoiseComponents, type NoiseExtensions, type NoiseInit } from '@libp2p/noise'
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * Thrown for every read that ends on a message boundary (see lengthPrefix).
 * One object, made once: throwing it records no stack.
 */
const SHORT = new RangeError('Could not decode int16BE')

/**
 * Noise's 2-byte message length, read as @libp2p/noise reads it, but a read
 * of fewer than 2 bytes throws the one RangeError above. @libp2p/utils'
 * length-prefixed decoder asks for the next length after each message it
 * takes, and stops at the RangeError the length reader throws when the
 * bytes have run out: nearly every socket read ends that way, and
 * @libp2p/noise (17.0.3) makes a new RangeError, with its stack, each time.
 * That was two to four percent of a replica's CPU in profiles of replicated
 * PUTs (about 2.5 µs an error).
 */
export function lengthPrefix (data: Uint8Array | Uint8ArrayList): number {
  if (data.length < 2) throw SHORT
  // Uint8ArrayList's getUint16 makes a sublist and a DataView to read two bytes.
  return data instanceof Uint8Array ? (data[0]! << 8) | data[1]! : (data.get(0) << 8) | data.get(1)
}

/** The part of @libp2p/noise's EncryptedMessageStream this reads (private in its types). */
interface Decoding { decoder?: { lengthDecoder?: unknown } }

/** Gives a secured connection's decoder lengthPrefix; returns whether it could (a @libp2p/noise that has no such decoder is left alone). */
export function quietReads (connection: unknown): boolean {
  const decoder = (connection as Decoding).decoder
  if (decoder === undefined || typeof decoder.lengthDecoder !== 'function') return false
  decoder.lengthDecoder = lengthPrefix
  return true
}

/**
 * Connections quietNoise secured, and those whose decoder it could not find
 * (a @libp2p/noise that changed: they read lengths its own way, and work).
 */
export const quietened = { connections: 0, missed: 0 }

/**
 * @libp2p/noise as it is (same wire, same handshake), whose connections read
 * message lengths with lengthPrefix. For every libp2p node s3mesh makes.
 */
export function quietNoise (init?: NoiseInit): (components: NoiseComponents) => ConnectionEncrypter<NoiseExtensions> {
  const make = noise(init)
  return components => {
    const inner = make(components)
    const quiet = (secured: SecuredConnection<NoiseExtensions>): SecuredConnection<NoiseExtensions> => {
      if (quietReads(secured.connection)) quietened.connections++
      else quietened.missed++
      return secured
    }
    const outer: ConnectionEncrypter<NoiseExtensions> = Object.create(inner)
    outer.secureInbound = async (connection: MessageStream, options?: SecureConnectionOptions) => quiet(await inner.secureInbound(connection, options))
    outer.secureOutbound = async (connection: MessageStream, options?: SecureConnectionOptions) => quiet(await inner.secureOutbound(connection, options))
    return outer
  }
}
