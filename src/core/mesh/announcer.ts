import type { GossipSub } from '@libp2p/gossipsub'
import { sha256 } from '@noble/hashes/sha2'
import { bytesToHex } from '@noble/hashes/utils'
import type { Keyring } from '../wire/keyring.js'
import { SealedTopic } from '../wire/sealed-topic.js'
import { dropCounts, type DropReason } from '../wire/strict-cbor.js'
import { CATALOG_LIMITS, decodeCatalogMessage, encodeCatalogMessage, MAX_SENT_TO, type CatalogMessage } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'

export interface AnnouncerOptions {
  /** Most entries in one message. */
  maxBatch: number
}

/**
 * The members that must hear of a bucket's object entries (its catalog
 * owners, this member left out): until every one of them subscribes to the
 * bucket's topic, its entries go out on the cluster's topic as well, so a
 * bucket just made (or an owner just arrived) loses no announcement.
 */
export type MustHear = (bucket: string) => string[]

export const DEFAULT_ANNOUNCER_OPTIONS: AnnouncerOptions = {
  maxBatch: 1000,
}

export interface AnnouncerStats {
  published: number
  publishedEntries: number
  /** Messages published again unlisted: gossipsub did not send the first to every subscriber it listed. */
  republished: number
  received: number
  receivedEntries: number
  /** Bucket topics subscribed to now. */
  topics: number
  dropped: Record<DropReason, number>
}

/** A peer's mark in an announcement's recipients: the end of its id, 8 base58 characters (some 46 bits) of its public key. */
export function peerMark (peerId: string): string {
  return peerId.slice(-8)
}

/** A bucket's topic: its name hashed, so that subscriptions (seen by every connected peer) do not spell it out. */
export function bucketTopic (cluster: string, bucket: string): string {
  return `/s3mesh/${cluster}/catalog/1/${bytesToHex(sha256(new TextEncoder().encode(bucket))).slice(0, 32)}`
}

/**
 * Announces catalog entries on sealed gossipsub topics, batched (signing and
 * sealing each tiny message would be the throughput limit) without waiting:
 * an entry goes out at once when nothing is being published, and entries
 * that arrive while a message is being sealed and published go together in
 * the next one. So an idle cluster pays no batching delay, and a busy one
 * sends few large messages.
 *
 * Buckets' own entries go on the cluster's topic, to every member (each
 * keeps every bucket's entry). An object's entry goes on its bucket's topic,
 * which only the bucket's owners (`listen`) and the members following it
 * (`follow`: a guest's page, a blocking locate) subscribe to: a write costs
 * the members that keep its part of the catalog, not the whole mesh. Members
 * that hold a key of a bucket they do not own hear of its changes from an
 * owner (HolderNotices). Entries announced by others go to `onEntries`; what
 * is not sealed with the cluster key or is malformed never gets there (see
 * SealedTopic).
 */
export class Announcer {
  readonly stats: AnnouncerStats = { published: 0, publishedEntries: 0, republished: 0, received: 0, receivedEntries: 0, topics: 0, dropped: dropCounts() }
  private readonly sealed: SealedTopic<CatalogMessage>
  /** Bucket topics subscribed to, by bucket. */
  private readonly subscribed = new Map<string, SealedTopic<CatalogMessage>>()
  /** Bucket topics published on without being subscribed to, by bucket (kept: made once). */
  private readonly publishing = new Map<string, SealedTopic<CatalogMessage>>()
  /** The buckets this member owns (`listen`), and how many follows each followed bucket has. */
  private owned = new Set<string>()
  private readonly followed = new Map<string, number>()
  private started = false
  private queue: CatalogEntry[] = []
  private scheduled = false
  private inflight: Promise<void> | undefined

  constructor (
    private readonly pubsub: GossipSub,
    private readonly keyring: Keyring,
    private readonly cluster: string,
    /** This member's peer id: its mark goes in its announcements' recipients, so that none is forwarded back to it. */
    private readonly self: string,
    private readonly onEntries: (from: string, entries: CatalogEntry[]) => void,
    private readonly mustHear: MustHear = () => [],
    private readonly options: AnnouncerOptions = DEFAULT_ANNOUNCER_OPTIONS,
  ) {
    this.sealed = this.topicOf(`/s3mesh/${cluster}/catalog/1`)
  }

  get topic (): string { return this.sealed.topic }

  start (): void {
    this.started = true
    this.sealed.start()
    this.resubscribe()
  }

  /** Sends what is queued, then stops. */
  async stop (): Promise<void> {
    await this.flush()
    this.started = false
    this.sealed.stop()
    for (const t of this.subscribed.values()) t.stop()
    this.subscribed.clear()
    this.stats.topics = 0
  }

  /** The buckets this member owns: their topics are subscribed to, the others' left (unless followed). */
  listen (owned: Iterable<string>): void {
    this.owned = new Set(owned)
    this.resubscribe()
  }

  /** Hears of a bucket's object entries until the returned function is called. */
  follow (bucket: string): () => void {
    this.followed.set(bucket, (this.followed.get(bucket) ?? 0) + 1)
    this.resubscribe()
    let done = false
    return () => {
      if (done) return
      done = true
      const n = (this.followed.get(bucket) ?? 1) - 1
      if (n > 0) this.followed.set(bucket, n)
      else this.followed.delete(bucket)
      this.resubscribe()
    }
  }

  /** Whether this member hears of a bucket's object entries (it owns or follows it). */
  hears (bucket: string): boolean {
    return this.subscribed.has(bucket)
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
    // One batch at a time: what queues meanwhile is the next batch.
    while (this.inflight !== undefined) await this.inflight
    if (this.queue.length === 0) return
    const batch = this.queue.splice(0, this.options.maxBatch)
    this.inflight = this.publish(batch)
    try { await this.inflight } finally { this.inflight = undefined }
    if (this.queue.length > 0) await this.flush()
  }

  private topicOf (topic: string): SealedTopic<CatalogMessage> {
    return new SealedTopic({
      pubsub: this.pubsub, keyring: this.keyring, topic, dropped: this.stats.dropped,
      decode: plain => decodeCatalogMessage(plain),
      onMessage: (via, { entries }) => {
        this.stats.received++
        this.stats.receivedEntries += entries.length
        this.onEntries(via, entries)
      },
      forward: (message, via) => this.mustForward(topic, message, via),
    })
  }

  /**
   * Whether a message goes on to this member's mesh peers for its topic:
   * only if a peer subscribed to it here (other than the one it came
   * through) is not among the subscribers its publisher listed as sent to.
   * A publisher sends a message to every subscriber it knows (gossipsub's
   * flood publishing), so among a bucket's few owners, all connected,
   * gossipsub's forwarding only sent each of them duplicates to drop (in CPU
   * profiles of a replica, four percent of its busy time under 64 KiB
   * replicated PUTs; see docs/benchmarks.md).
   */
  private mustForward (topic: string, { sentTo }: CatalogMessage, via: string): boolean {
    if (sentTo === undefined) return true
    const sent = new Set(sentTo)
    return this.pubsub.getSubscribers(topic).some(p => { const id = p.toString(); return id !== via && !sent.has(peerMark(id)) })
  }

  private resubscribe (): void {
    if (!this.started) return
    const want = new Set([...this.owned, ...this.followed.keys()])
    for (const [bucket, t] of this.subscribed) {
      if (want.has(bucket)) continue
      t.stop()
      this.subscribed.delete(bucket)
    }
    for (const bucket of want) {
      if (this.subscribed.has(bucket)) continue
      const t = this.publishing.get(bucket) ?? this.topicOf(bucketTopic(this.cluster, bucket))
      this.publishing.delete(bucket)
      t.start()
      this.subscribed.set(bucket, t)
    }
    this.stats.topics = this.subscribed.size
  }

  /** The batch split by topic: buckets' entries, and the entries of each bucket whose members must all hear them and do not all subscribe yet, on the cluster's topic. */
  private async publish (batch: CatalogEntry[]): Promise<void> {
    const everyone: CatalogEntry[] = []
    const byBucket = new Map<string, CatalogEntry[]>()
    for (const e of batch) {
      if (e.key === undefined) { everyone.push(e); continue }
      const list = byBucket.get(e.bucket)
      if (list === undefined) byBucket.set(e.bucket, [e])
      else list.push(e)
    }
    for (const [bucket, entries] of byBucket) {
      const topic = this.subscribed.get(bucket) ?? this.publishing.get(bucket) ?? this.topicOf(bucketTopic(this.cluster, bucket))
      if (!this.subscribed.has(bucket)) this.publishing.set(bucket, topic)
      const listening = this.pubsub.getSubscribers(topic.topic).map(p => p.toString())
      const heard = new Set(listening)
      if (this.mustHear(bucket).some(id => !heard.has(id))) everyone.push(...entries)
      else await this.send(topic, entries, listening)
    }
    if (everyone.length > 0) await this.send(this.sealed, everyone, this.pubsub.getSubscribers(this.sealed.topic).map(p => p.toString()))
  }

  /**
   * Publishes entries to a topic's subscribers, listed in the message when
   * they are few (see mustForward), with the publisher itself. A listed subscriber that gossipsub did
   * not send it to (no stream to it yet, a score below its threshold) would
   * hear it only from a member that forwards it, and none would: the entries
   * go again, in a message that lists nobody.
   */
  private async send (topic: SealedTopic<CatalogMessage>, entries: CatalogEntry[], subscribers: string[]): Promise<void> {
    const listed = subscribers.length < MAX_SENT_TO ? subscribers : undefined
    // The publisher lists itself too: a member that first hears the message from another, and is also connected to
    // the publisher, would otherwise send it back to the publisher.
    const plain = encodeCatalogMessage(entries, listed === undefined ? undefined : [this.self, ...listed].map(peerMark))
    if (plain.byteLength > CATALOG_LIMITS.maxMessageBytes) return // cannot happen with maxBatch entries of bounded size
    // Rejects before gossipsub has started or if sealing fails; stopped, it resolves with no recipients. No
    // subscribed peer yet (a cluster of one) is no error: anti-entropy brings later members up to date.
    const sent = await topic.publish(plain).catch(() => undefined)
    this.stats.published++
    this.stats.publishedEntries += entries.length
    if (listed === undefined || sent === undefined) return
    const reached = new Set(sent.recipients)
    if (listed.every(id => reached.has(id))) return
    this.stats.republished++
    await topic.publish(encodeCatalogMessage(entries)).catch(() => {})
  }
}
