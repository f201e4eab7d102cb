import { TopicValidatorResult, type GossipSub, type GossipsubMessage } from '@libp2p/gossipsub'
import type { Keyring } from './keyring.js'
import { DroppedMessageError, type DropReason } from './strict-cbor.js'

/**
 * What s3mesh calls on gossipsub beyond its exported interface: a public
 * method of its router class (`GossipSub` in its gossipsub.js) that the
 * interface leaves out.
 */
export interface GossipRouter {
  /** A delivered message's fate (with asyncValidation): Accept forwards it, Ignore drops it quietly. */
  reportMessageValidationResult: (msgId: string, propagationSource: string, acceptance: TopicValidatorResult) => void
}

/**
 * The router behind a gossipsub service. Throws if a gossipsub release no
 * longer has the methods s3mesh calls, or if the service forwards messages
 * by itself (it was not made with GOSSIPSUB_OPTIONS' asyncValidation): a
 * report would then forward each message a second time.
 */
export function gossipRouter (pubsub: GossipSub): GossipRouter {
  const router = pubsub as unknown as Partial<GossipRouter> & { opts?: { asyncValidation?: boolean } }
  if (typeof router.reportMessageValidationResult !== 'function') {
    throw new Error('This @libp2p/gossipsub has no reportMessageValidationResult: s3mesh needs a release that has it.')
  }
  if (router.opts?.asyncValidation !== true) throw new Error('gossipsub must be made with GOSSIPSUB_OPTIONS (asyncValidation: members decide what is forwarded).')
  return router as GossipRouter
}

export interface SealedTopicOptions<T> {
  pubsub: GossipSub
  keyring: Keyring
  topic: string
  /** Reads an opened message; throws DroppedMessageError to refuse it. */
  decode: (plain: Uint8Array) => T
  /** A message that opened and decoded, with the peer it came through (not its author: messages are not signed, see GOSSIPSUB_OPTIONS). */
  onMessage: (via: string, value: T) => void
  /** Where refusals are counted, by reason (a component's stats, shown on /metrics). */
  dropped: Record<DropReason, number>
  /**
   * Whether a delivered message goes on to this member's mesh peers for the
   * topic (gossipsub's forwarding, which waits for this: asyncValidation,
   * see GOSSIPSUB_OPTIONS). Always, unless given.
   */
  forward?: (value: T, via: string) => boolean
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
  /** Decoded by the validator, keyed by the message's bytes, for its delivery; with the peer it came through. */
  private readonly opened = new WeakMap<Uint8Array, { value: T, via: string }>()
  private readonly onEvent = (e: CustomEvent<GossipsubMessage>): void => { this.deliver(e.detail) }
  private readonly router: GossipRouter

  constructor (private readonly o: SealedTopicOptions<T>) {
    this.router = gossipRouter(o.pubsub)
  }

  get topic (): string { return this.o.topic }

  start (): void {
    this.o.pubsub.topicValidators.set(this.o.topic, async (peer, message) => {
      try {
        this.opened.set(message.data, { value: this.o.decode(await this.o.keyring.open(message.data)), via: peer.toString() })
        return TopicValidatorResult.Accept
      } catch (err) {
        if (err instanceof DroppedMessageError) this.o.dropped[err.reason]++
        return TopicValidatorResult.Reject
      }
    })
    this.o.pubsub.addEventListener('gossipsub:message', this.onEvent)
    this.o.pubsub.subscribe(this.o.topic)
  }

  stop (): void {
    this.o.pubsub.removeEventListener('gossipsub:message', this.onEvent)
    this.o.pubsub.unsubscribe(this.o.topic)
    this.o.pubsub.topicValidators.delete(this.o.topic)
  }

  /** Seals and publishes `plain`; resolves to the bytes published and the peers gossipsub sent them to. */
  async publish (plain: Uint8Array): Promise<{ bytes: number, recipients: string[] }> {
    const sealed = await this.o.keyring.seal(plain)
    const { recipients } = await this.o.pubsub.publish(this.o.topic, sealed)
    return { bytes: sealed.byteLength, recipients: recipients.map(p => p.toString()) }
  }

  private deliver ({ msg, msgId, propagationSource }: GossipsubMessage): void {
    if (msg.topic !== this.o.topic) return
    const source = propagationSource.toString()
    const opened = this.opened.get(msg.data)
    // Every message delivered went through a validator, which opened it (a message it refused is never delivered):
    // one not found here was opened by this topic's instance before a resubscription. Not seen here; forwarded.
    if (opened === undefined) { this.router.reportMessageValidationResult(msgId, source, TopicValidatorResult.Accept); return }
    this.opened.delete(msg.data)
    // Told first, so that forwarding does not wait for what the member does with it. Not forwarded: gossipsub drops
    // it from the messages it offers others in its gossip, with no penalty to anyone.
    const forward = this.o.forward?.(opened.value, opened.via) ?? true
    this.router.reportMessageValidationResult(msgId, source, forward ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore)
    this.o.onMessage(opened.via, opened.value)
  }
}
