import type { GossipSub } from '@libp2p/gossipsub'
import type { Keyring } from '../wire/keyring.js'
import { SealedTopic } from '../wire/sealed-topic.js'
import { dropCounts, type DropReason } from '../wire/strict-cbor.js'
import { CATALOG_LIMITS, decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'

export interface AnnouncerOptions {
  /** Most entries in one message. */
  maxBatch: number
}

export const DEFAULT_ANNOUNCER_OPTIONS: AnnouncerOptions = {
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
 * Announces catalog entries on a sealed gossipsub topic per cluster, batched
 * (signing and sealing each tiny message would be the throughput limit)
 * without waiting: an entry goes out at once when nothing is being published,
 * and entries that arrive while a message is being sealed and published go
 * together in the next one. So an idle cluster pays no batching delay, and a
 * busy one sends few large messages. Entries announced by others go to
 * `onEntries`; what is not sealed with the cluster key or is malformed never
 * gets there (see SealedTopic).
 */
export class Announcer {
  readonly stats: AnnouncerStats = { published: 0, publishedEntries: 0, received: 0, receivedEntries: 0, dropped: dropCounts() }
  private readonly sealed: SealedTopic<CatalogEntry[]>
  private queue: CatalogEntry[] = []
  private scheduled = false
  private inflight: Promise<void> | undefined

  constructor (
    pubsub: GossipSub,
    keyring: Keyring,
    cluster: string,
    onEntries: (from: string, entries: CatalogEntry[]) => void,
    private readonly options: AnnouncerOptions = DEFAULT_ANNOUNCER_OPTIONS,
  ) {
    this.sealed = new SealedTopic({
      pubsub, keyring, topic: `/s3mesh/${cluster}/catalog/1`, dropped: this.stats.dropped,
      decode: plain => decodeCatalogMessage(plain).entries,
      onMessage: (from, entries) => {
        this.stats.received++
        this.stats.receivedEntries += entries.length
        onEntries(from, entries)
      },
    })
  }

  get topic (): string { return this.sealed.topic }

  start (): void {
    this.sealed.start()
  }

  /** Sends what is queued, then stops. */
  async stop (): Promise<void> {
    await this.flush()
    this.sealed.stop()
  }

  /** Queues entries: they go out with the next message. */
  announce (entries: CatalogEntry[]): void {
    // One at a time: a spread of a start-up's hundred thousand entries overflows the call stack.
    for (const e of entries) this.queue.push(e)
    if (this.scheduled) return
    this.scheduled = true
    // After the current task, so that entries made together (a PUT's entry and its holders) go together.
    queueMicrotask(() => { void this.flush() })
  }

  /** Publishes everything queued; resolves when it has been handed to gossipsub. */
  async flush (): Promise<void> {
    this.scheduled = false
    // One message at a time: what queues meanwhile is the next batch.
    while (this.inflight !== undefined) await this.inflight
    if (this.queue.length === 0) return
    const batch = this.queue.splice(0, this.options.maxBatch)
    this.inflight = this.publish(batch)
    try { await this.inflight } finally { this.inflight = undefined }
    if (this.queue.length > 0) await this.flush()
  }

  private async publish (batch: CatalogEntry[]): Promise<void> {
    const plain = encodeCatalogMessage(batch)
    if (plain.byteLength > CATALOG_LIMITS.maxMessageBytes) return // cannot happen with maxBatch entries of bounded size
    await this.sealed.publish(plain).catch(() => {
      // No subscribed peer yet (a cluster of one): anti-entropy brings later members up to date.
    })
    this.stats.published++
    this.stats.publishedEntries += batch.length
  }
}
