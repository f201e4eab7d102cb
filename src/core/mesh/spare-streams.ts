import type { Libp2p, Stream } from '@libp2p/interface'
import { openStream } from '../wire/open-stream.js'

/**
 * A stream opened ahead to each peer, its protocol already agreed: libp2p 3.3
 * waits a round trip to agree on a new stream's protocol (it ignores
 * optimistic selection), which a push would otherwise pay before its first
 * byte (40 ms between machines 40 ms apart). A spare is kept for `maxAgeMs`
 * (less than the serving side's idle timeout, after which it drops a stream
 * that says nothing), then closed and opened again at the next take.
 */
export class SpareStreams {
  private readonly spares = new Map<string, { stream: Stream, at: number }>()
  private readonly opening = new Set<string>()
  private stopped = false

  constructor (private readonly libp2p: Libp2p, private readonly protocol: string, private readonly maxAgeMs: number) {}

  /** The spare to `peer` when it is fresh and open (undefined otherwise); the next one is opened either way. */
  take (peer: string): Stream | undefined {
    const spare = this.spares.get(peer)
    this.spares.delete(peer)
    this.refill(peer)
    if (spare !== undefined && spare.stream.status === 'open' && Date.now() - spare.at < this.maxAgeMs) return spare.stream
    if (spare !== undefined) void Promise.resolve(spare.stream.close()).catch(() => {})
    return undefined
  }

  /** Closes every spare; none is opened after. */
  stop (): void {
    this.stopped = true
    for (const { stream } of this.spares.values()) void Promise.resolve(stream.close()).catch(() => {})
    this.spares.clear()
  }

  /** Opens the next spare stream to `peer` in the background, unless one is there or on its way. */
  private refill (peer: string): void {
    if (this.stopped || this.opening.has(peer) || this.spares.has(peer)) return
    this.opening.add(peer)
    void openStream(this.libp2p, peer, this.protocol, AbortSignal.timeout(this.maxAgeMs * 2)).then(stream => {
      if (this.stopped || this.spares.has(peer)) { void Promise.resolve(stream.close()).catch(() => {}); return }
      this.spares.set(peer, { stream, at: Date.now() })
      stream.addEventListener('close', () => { if (this.spares.get(peer)?.stream === stream) this.spares.delete(peer) })
    }, () => {}).finally(() => { this.opening.delete(peer) })
  }
}
