import { TopicValidatorResult, type GossipSub, type Message as PubsubMessage } from '@libp2p/gossipsub'
import type { Keyring } from './keyring.js'
import { DroppedMessageError, type DropReason } from './strict-cbor.js'

export interface SealedTopicOptions<T> {
  pubsub: GossipSub
  keyring: Keyring
  topic: string
  /** Reads an opened message; throws DroppedMessageError to refuse it. */
  decode: (plain: Uint8Array) => T
  /** A message that opened and decoded, with the peer that published it. */
  onMessage: (from: string, value: T) => void
  /** Where refusals are counted, by reason (a component's stats, shown on /metrics). */
  dropped: Record<DropReason, number>
}

/**
 * A gossipsub topic whose messages are sealed with the cluster key, for
 * membership updates and catalog announcements alike. A topic validator
 * opens and decodes every message before gossipsub delivers or forwards it:
 * anything not sealed with the cluster key, or malformed, is rejected, so it
 * goes no further and gossipsub scores down the peer that sent it. What the
 * validator decoded is handed to the delivery of the same message, so each
 * message is opened once (opening twice cost a third of a busy node's CPU).
 */
export class SealedTopic<T> {
  /** Decoded by the validator, keyed by the message's bytes, for its delivery. */
  private readonly opened = new WeakMap<Uint8Array, T>()
  private readonly onEvent = (e: CustomEvent<PubsubMessage>): void => { this.deliver(e.detail) }

  constructor (private readonly o: SealedTopicOptions<T>) {}

  get topic (): string { return this.o.topic }

  start (): void {
    this.o.pubsub.topicValidators.set(this.o.topic, async (_peer, message) => {
      try {
        this.opened.set(message.data, this.o.decode(await this.o.keyring.open(message.data)))
        return TopicValidatorResult.Accept
      } catch (err) {
        if (err instanceof DroppedMessageError) this.o.dropped[err.reason]++
        return TopicValidatorResult.Reject
      }
    })
    this.o.pubsub.addEventListener('message', this.onEvent)
    this.o.pubsub.subscribe(this.o.topic)
  }

  stop (): void {
    this.o.pubsub.removeEventListener('message', this.onEvent)
    this.o.pubsub.unsubscribe(this.o.topic)
    this.o.pubsub.topicValidators.delete(this.o.topic)
  }

  /** Seals and publishes `plain`; resolves to the bytes published. Rejects when no peer subscribes yet. */
  async publish (plain: Uint8Array): Promise<number> {
    const sealed = await this.o.keyring.seal(plain)
    await this.o.pubsub.publish(this.o.topic, sealed)
    return sealed.byteLength
  }

  private deliver (msg: PubsubMessage): void {
    // Signed messages only: the publisher's peer id is part of what gossipsub checked.
    if (msg.topic !== this.o.topic || msg.type !== 'signed') return
    const from = msg.from.toString()
    const value = this.opened.get(msg.data)
    if (value !== undefined) {
      this.opened.delete(msg.data)
      this.o.onMessage(from, value)
      return
    }
    // Not seen by the validator (it always should be): open it here.
    void this.o.keyring.open(msg.data).then(plain => { this.o.onMessage(from, this.o.decode(plain)) }).catch(() => {})
  }
}
