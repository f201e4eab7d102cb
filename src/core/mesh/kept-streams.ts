import type { SealedFrames } from '../wire/sealed-frames.js'

/** Streams kept per peer at most: one per write in flight to it (an SDK's 8 at a time, with room). */
const MAX_PER_PEER = 16

/**
 * Transfer streams kept open after a push or a fetch the peer agreed to keep
 * the stream for (its answer says `kept`), so the next one starts on a stream
 * whose protocol is agreed and whose muxer state exists: opening one costs
 * both sides a yamux stream, a protocol negotiation and a peer-store update,
 * about a millisecond of CPU each at a replicated PUT's rate. A kept stream
 * is used for `maxAgeMs` at most after its last push (less than the serving
 * side's idle timeout, after which it drops a stream that says nothing), and
 * by one exchange at a time.
 */
export class KeptStreams {
  private readonly kept = new Map<string, Array<{ frames: SealedFrames, at: number }>>()
  private stopped = false

  constructor (private readonly maxAgeMs: number) {}

  /** A kept stream to `peer` that is open and fresh, taken out of the pool; undefined if none. */
  take (peer: string): SealedFrames | undefined {
    const list = this.kept.get(peer)
    if (list === undefined) return undefined
    const now = Date.now()
    for (let k = list.pop(); k !== undefined; k = list.pop()) {
      if (k.frames.stream.status === 'open' && now - k.at < this.maxAgeMs) {
        if (list.length === 0) this.kept.delete(peer)
        return k.frames
      }
      void k.frames.close()
    }
    this.kept.delete(peer)
    return undefined
  }

  /** Keeps `frames` (its exchange done, nothing left unread) for the next push to `peer`; closes it if the pool is full or stopped. */
  keep (peer: string, frames: SealedFrames): void {
    const list = this.kept.get(peer) ?? []
    // The oldest go first: they are the next to pass their age.
    const now = Date.now()
    while (list.length > 0 && now - list[0]!.at >= this.maxAgeMs) void list.shift()!.frames.close()
    if (this.stopped || list.length >= MAX_PER_PEER || frames.stream.status !== 'open') {
      void frames.close()
      return
    }
    list.push({ frames, at: now })
    this.kept.set(peer, list)
  }

  /** How many streams are kept with `peer` now (fresh or not). */
  count (peer: string): number {
    return this.kept.get(peer)?.length ?? 0
  }

  /** Closes every kept stream; none is kept after. */
  stop (): void {
    this.stopped = true
    for (const list of this.kept.values()) for (const k of list) void k.frames.close()
    this.kept.clear()
  }
}
