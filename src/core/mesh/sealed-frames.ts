import type { Stream } from '@libp2p/interface'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { decode, encode } from 'cborg'
import { DroppedMessageError } from '../membership/codec.js'
import type { Keyring } from '../membership/keyring.js'

/** Largest frame on a mesh stream: control messages and data chunks alike. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024

/**
 * A length-prefixed libp2p stream whose control messages are CBOR sealed with
 * the cluster key (so only members speak the protocol) and whose data frames
 * are plain (Noise already encrypts the connection; sealing every chunk would
 * only cost time). A zero-length data frame ends the data.
 */
export class SealedFrames {
  readonly lp: LengthPrefixedStream<Stream>

  constructor (readonly stream: Stream, private readonly keyring: Keyring) {
    this.lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  }

  async send (message: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    await this.lp.write(await this.keyring.seal(encode(message)), { signal })
  }

  /** The next control message, opened and decoded to a map; DroppedMessageError if it is not one. */
  async receive (signal?: AbortSignal): Promise<Record<string, unknown>> {
    const frame = await this.lp.read({ signal })
    const plain = await this.keyring.open(frame.subarray())
    let raw: unknown
    try {
      raw = decode(plain, { strict: true, rejectDuplicateMapKeys: true, useMaps: false })
    } catch (err) {
      throw new DroppedMessageError('not-cbor', `Not a CBOR control message: ${String(err)}`)
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) throw new DroppedMessageError('malformed', 'A control message is not a map.')
    return raw as Record<string, unknown>
  }

  async sendData (chunk: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (chunk.byteLength > 0) await this.lp.write(chunk, { signal })
  }

  async endData (signal?: AbortSignal): Promise<void> {
    await this.lp.write(new Uint8Array(0), { signal })
  }

  /** The next data chunk, or undefined at the end of the data. */
  async receiveData (signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const frame = await this.lp.read({ signal })
    return frame.byteLength === 0 ? undefined : frame.subarray()
  }

  async close (): Promise<void> {
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }
}
