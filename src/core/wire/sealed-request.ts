import type { Libp2p, Stream } from '@libp2p/interface'
import { FIRST_FRAMES } from './held-bytes.js'
import { openStream } from './open-stream.js'
import { SealedFrames, type FrameSeal } from './sealed-frames.js'

/**
 * The shape of the mesh's one-question protocols (catalog-query,
 * member-stats, bucket-close): a new stream, one sealed question, one sealed
 * answer, the stream closed. On any failure the stream is reset, not left to
 * time out at the other end.
 */

export interface SealedRequestOptions {
  /** Ends the exchange (its timeout, usually): the stream is reset and the wait fails. */
  signal: AbortSignal
  /** Resets the stream when no frame moves for this long, ms (SealedFrames' idle timer). */
  idleTimeoutMs?: number
  /** The largest question answered, bytes (SealedFrames' firstFrameMaxBytes): the protocol's largest honest question. */
  firstFrameMaxBytes?: number
}

/** Asks `peer` one question over `protocol` on a new stream; resolves with its answer. */
export async function askSealed (libp2p: Libp2p, keyring: FrameSeal, peer: string, protocol: string, request: Record<string, unknown>, options: SealedRequestOptions): Promise<Record<string, unknown>> {
  const { signal } = options
  const frames = new SealedFrames(await openStream(libp2p, peer, protocol, signal), keyring, { signal, ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }) })
  try {
    await frames.send(request, signal)
    const answer = await frames.receive(signal)
    await frames.close()
    return answer
  } catch (err) {
    frames.abort(err instanceof Error ? err : new Error(String(err)))
    throw err
  }
}

/**
 * Serves one question on `stream`: what `answer` makes of it is sent and the
 * stream closed. A question not sealed with the cluster key (receive throws),
 * one `answer` refuses by throwing, or a timeout resets the stream instead.
 * Resolves whether the question was answered; never rejects.
 */
export async function answerSealed (stream: Stream, from: string, keyring: FrameSeal, answer: (request: Record<string, unknown>) => Promise<Record<string, unknown>>, options: Partial<SealedRequestOptions> = {}): Promise<boolean> {
  const { idleTimeoutMs, firstFrameMaxBytes } = options
  const frames = new SealedFrames(stream, keyring, { firstFrames: FIRST_FRAMES.for(from), ...(idleTimeoutMs === undefined ? {} : { idleTimeoutMs }), ...(firstFrameMaxBytes === undefined ? {} : { firstFrameMaxBytes }) })
  try {
    const request = await frames.receive(options.signal)
    await frames.send(await answer(request), options.signal)
    await frames.close()
    return true
  } catch (err) {
    frames.abort(err instanceof Error ? err : new Error(String(err)))
    return false
  }
}
