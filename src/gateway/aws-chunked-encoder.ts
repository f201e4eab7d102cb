/**
 * A body sent on as aws-chunked frames ending in a trailer
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER), for a checksum known only once the
 * body has ended (a client's own trailer, checked on the way in): the node it
 * goes to checks it again and keeps it. Frames are of one size but the last,
 * so the encoded length is known before the first byte (a worker sends a
 * stream with Content-Length).
 */

/** Bytes of every frame but the last. */
const FRAME = 64 * 1024
const encoder = new TextEncoder()

export interface Trailer {
  /** The trailer's header name, as `x-amz-checksum-crc32`. */
  name: string
  /** Its value's length (a checksum's base64 is of a fixed length), for the encoded length. */
  valueLength: number
  /** Its value, read when the body has ended. */
  value: () => string | undefined
}

function frameLength (bytes: number): number {
  return bytes.toString(16).length + 2 + bytes + 2
}

/** The encoded length of `size` bytes of body with the trailer. */
export function awsChunkedLength (size: number, trailer: Pick<Trailer, 'name' | 'valueLength'>): number {
  const rest = size % FRAME
  return Math.floor(size / FRAME) * frameLength(FRAME) + (rest > 0 ? frameLength(rest) : 0) + 3 + trailer.name.length + 1 + trailer.valueLength + 4
}

export function awsChunked (body: ReadableStream<Uint8Array>, trailer: Trailer): ReadableStream<Uint8Array> {
  let pending = new Uint8Array(0)
  const frame = (bytes: Uint8Array): Uint8Array => {
    const head = encoder.encode(`${bytes.byteLength.toString(16)}\r\n`)
    const out = new Uint8Array(head.byteLength + bytes.byteLength + 2)
    out.set(head, 0)
    out.set(bytes, head.byteLength)
    out.set([13, 10], head.byteLength + bytes.byteLength)
    return out
  }
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform (chunk, controller) {
      let data = chunk
      if (pending.byteLength > 0) {
        data = new Uint8Array(pending.byteLength + chunk.byteLength)
        data.set(pending, 0)
        data.set(chunk, pending.byteLength)
      }
      let at = 0
      for (; data.byteLength - at >= FRAME; at += FRAME) controller.enqueue(frame(data.subarray(at, at + FRAME)))
      pending = data.slice(at)
    },
    flush (controller) {
      if (pending.byteLength > 0) controller.enqueue(frame(pending))
      const value = trailer.value()
      if (value === undefined || value.length !== trailer.valueLength) throw new Error(`The ${trailer.name} trailer has no value to send.`)
      controller.enqueue(encoder.encode(`0\r\n${trailer.name}:${value}\r\n\r\n`))
    },
  }))
}
