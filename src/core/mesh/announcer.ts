import { TopicValidatorResult, type GossipSub, type Message as PubsubMessage } from '@libp2p/gossipsub'
import { DroppedMessageError, type DropReason } from '../membership/codec.js'
import type { Keyring } from '../membership/keyring.js'
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
 * Announces catalog entries on a gossipsub topic per cluster, batched
 * (signing and sealing each tiny message would be the throughput limit)
 * without waiting: an entry goes out at once when nothing is being published,
 * and entries that arrive while a message is being sealed and published go
 * together in the next one. So an idle cluster pays no batching delay, and a
 * busy one sends few large messages. Entries announced by others go to `onEntries`.
 * A topic validator opens
 * and decodes every message: anything not sealed with the cluster key, or
 * malformed, is rejected, so gossipsub neither delivers nor forwards it and
 * scores down the peer that sent it.
 */
export class Announcer {
  readonly stats: AnnouncerStats = { published: 0, publishedEntries: 0, received: 0, receivedEntries: 0, dropped: { 'too-large': 0, 'not-cbor': 0, 'bad-version': 0, malformed: 0, 'not-sealed': 0, 'wrong-key': 0 } }
  readonly topic: string
  private queue: CatalogEntry[] = []
  private scheduled = false
  private inflight: Promise<void> | undefined
  /** What the validator opened and decoded, for the delivery of the same message (opening twice cost a third of a busy node's CPU). */
  private readonly opened = new WeakMap<Uint8Array, CatalogEntry[]>()
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
        this.opened.set(message.data, decodeCatalogMessage(await this.keyring.open(message.data)).entries)
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
    this.pubsub.removeEventListener('message', this.onMessage)
    this.pubsub.unsubscribe(this.topic)
    this.pubsub.topicValidators.delete(this.topic)
  }

  /** Queues entries: they go out with the next message. */
  announce (...entries: CatalogEntry[]): void {
    this.queue.push(...entries)
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
    const data = await this.keyring.seal(encodeCatalogMessage(batch))
    if (data.byteLength > CATALOG_LIMITS.maxMessageBytes) return // cannot happen with maxBatch entries of bounded size
    await this.pubsub.publish(this.topic, data).catch(() => {
      // No subscribed peer yet (a cluster of one): anti-entropy brings later members up to date.
    })
    this.stats.published++
    this.stats.publishedEntries += batch.length
  }

  private receive (msg: PubsubMessage): void {
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    const from = msg.from.toString()
    const deliver = (entries: CatalogEntry[]): void => {
      this.stats.received++
      this.stats.receivedEntries += entries.length
      this.onEntries(from, entries)
    }
    const entries = this.opened.get(msg.data)
    if (entries !== undefined) { deliver(entries); return }
    void this.keyring.open(msg.data).then(plain => { deliver(decodeCatalogMessage(plain).entries) }).catch(() => {
      // The validator already rejected and counted it.
    })
  }
}
