import { TopicValidatorResult, type GossipSub, type Message as PubsubMessage } from '@libp2p/gossipsub'
import { DroppedMessageError, type DropReason } from '../membership/codec.js'
import type { Keyring } from '../membership/keyring.js'
import { CATALOG_LIMITS, decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'

export interface AnnouncerOptions {
  /** Entries are batched for this long before one sealed, signed message goes out, ms. */
  batchMs: number
  /** A batch is sent at once when it reaches this many entries. */
  maxBatch: number
}

export const DEFAULT_ANNOUNCER_OPTIONS: AnnouncerOptions = {
  batchMs: 20,
  maxBatch: 1000,
}

export interface AnnouncerStats {
  published: number
  publishedEntries: number
  received: number
  receivedEntries: number
  dropped: Record<DropReason, number>
}

/**
 * Announces catalog entries on a gossipsub topic per cluster, batched
 * (signing and sealing each tiny message would be the throughput limit), and
 * hands entries announced by others to `onEntries`. A topic validator opens
 * and decodes every message: anything not sealed with the cluster key, or
 * malformed, is rejected, so gossipsub neither delivers nor forwards it and
 * scores down the peer that sent it.
 */
export class Announcer {
  readonly stats: AnnouncerStats = { published: 0, publishedEntries: 0, received: 0, receivedEntries: 0, dropped: { 'too-large': 0, 'not-cbor': 0, 'bad-version': 0, malformed: 0, 'not-sealed': 0, 'wrong-key': 0 } }
  readonly topic: string
  private queue: CatalogEntry[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly flushing = new Set<Promise<void>>()
  private readonly onMessage = (e: CustomEvent<PubsubMessage>): void => { this.receive(e.detail) }

  constructor (
    private readonly pubsub: GossipSub,
    private readonly keyring: Keyring,
    cluster: string,
    private readonly onEntries: (from: string, entries: CatalogEntry[]) => void,
    private readonly options: AnnouncerOptions = DEFAULT_ANNOUNCER_OPTIONS,
  ) {
    this.topic = `/s3mesh/${cluster}/catalog/1`
  }

  start (): void {
    this.pubsub.topicValidators.set(this.topic, async (_peer, message) => {
      try {
        decodeCatalogMessage(await this.keyring.open(message.data))
        return TopicValidatorResult.Accept
      } catch (err) {
        if (err instanceof DroppedMessageError) this.stats.dropped[err.reason]++
        return TopicValidatorResult.Reject
      }
    })
    this.pubsub.addEventListener('message', this.onMessage)
    this.pubsub.subscribe(this.topic)
  }

  /** Sends what is queued, then stops. */
  async stop (): Promise<void> {
    await this.flush()
    await Promise.all(this.flushing)
    this.pubsub.removeEventListener('message', this.onMessage)
    this.pubsub.unsubscribe(this.topic)
    this.pubsub.topicValidators.delete(this.topic)
  }

  /** Queues entries for the next batch. */
  announce (...entries: CatalogEntry[]): void {
    this.queue.push(...entries)
    if (this.queue.length >= this.options.maxBatch) void this.flush()
    else this.timer ??= setTimeout(() => { void this.flush() }, this.options.batchMs)
  }

  /** Publishes what is queued now; resolves when it has been handed to gossipsub. */
  async flush (): Promise<void> {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    if (this.queue.length === 0) return
    const batch = this.queue.splice(0, this.queue.length)
    const publishing = (async () => {
      for (let i = 0; i < batch.length; i += this.options.maxBatch) {
        const part = batch.slice(i, i + this.options.maxBatch)
        const data = await this.keyring.seal(encodeCatalogMessage(part))
        if (data.byteLength > CATALOG_LIMITS.maxMessageBytes) continue // cannot happen with maxBatch entries of bounded size
        await this.pubsub.publish(this.topic, data).catch(() => {
          // No subscribed peer yet (a cluster of one): anti-entropy brings later members up to date.
        })
        this.stats.published++
        this.stats.publishedEntries += part.length
      }
    })()
    this.flushing.add(publishing)
    try { await publishing } finally { this.flushing.delete(publishing) }
  }

  private receive (msg: PubsubMessage): void {
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    const from = msg.from.toString()
    void this.keyring.open(msg.data).then(plain => {
      const { entries } = decodeCatalogMessage(plain)
      this.stats.received++
      this.stats.receivedEntries += entries.length
      this.onEntries(from, entries)
    }).catch(() => {
      // The validator already rejected and counted it.
    })
  }
}
