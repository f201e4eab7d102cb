import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { FIRST_FRAMES } from '../wire/held-bytes.js'
import { SealedFrames } from '../wire/sealed-frames.js'
import { SealedTopic } from '../wire/sealed-topic.js'
import { concatBytes } from '../streams.js'
import { dropCounts, DroppedMessageError, type DropReason } from '../wire/strict-cbor.js'
import { decodeMessage, DEFAULT_LIMITS, encodeMessage } from './codec.js'
import type { MembershipConfig } from './config.js'
import type { Keyring } from '../wire/keyring.js'
import type { MemberInfo } from './member-events.js'
import { Membership } from './membership.js'
import type { Gossip, Message } from './messages.js'
import { decodeNodeMeta, fitNodeMeta, type NodeMeta } from './node-meta.js'

export const MEMBERSHIP_PROTOCOL = '/s3mesh/membership/1.0.0'

export interface MembershipTransportOptions {
  libp2p: Libp2p
  keyring: Keyring
  config: MembershipConfig
  meta: NodeMeta
  /**
   * Disseminate updates on this gossipsub service (topic per cluster) instead
   * of gossip rounds; probes, push-pull and piggybacked updates stay on the
   * membership protocol.
   */
  pubsub?: { service: GossipSub, cluster: string }
  /** Randomness in [0, 1); Math.random by default. */
  random?: () => number
  /**
   * Told of a peer that sent a membership message this member could not
   * open (sealed with another cluster key or name, or not sealed), with the
   * address it came from: the node's operator learns why it is not let in.
   */
  onRefused?: (peer: string, address: string) => void
}

/** Counters for /metrics. */
export interface TransportStats {
  sent: number
  received: number
  /** Sealed bytes written (membership frames and published payloads; not gossipsub's own forwarding) and read. */
  bytesSent: number
  bytesReceived: number
  /** Updates published on and received from the gossipsub topic. */
  published: number
  fromPubsub: number
  sendFailures: number
  dropped: Record<DropReason, number>
}

type LpStream = LengthPrefixedStream<Stream>

/**
 * Runs Membership over libp2p: one protocol, every message length-prefixed and
 * sealed with the cluster key. The sender of a message is the peer the
 * (Noise-authenticated) connection belongs to, so no member can speak for
 * another; a peer without the key gets nothing in and is never listed.
 */
export class MembershipTransport {
  readonly membership: Membership
  readonly stats: TransportStats = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0, published: 0, fromPubsub: 0, sendFailures: 0, dropped: dropCounts() }
  private readonly outbound = new Map<string, Promise<LpStream>>()
  /** Sends not yet written, so that a leave can wait for its news to go out. */
  private readonly inflight = new Set<Promise<void>>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity
  private stopped = false
  private readonly libp2p: Libp2p
  private readonly keyring: Keyring
  /** Updates go out on this topic (one sealed message per gossip interval) instead of gossip rounds. */
  private readonly topic?: SealedTopic<Gossip>
  private readonly gossipIntervalMs: number
  private publishTimer: ReturnType<typeof setInterval> | undefined
  /** What this member tells the others about itself (updateMeta changes it). */
  private meta: NodeMeta
  private readonly maxMetaBytes: number
  private readonly onRefused: ((peer: string, address: string) => void) | undefined

  constructor (options: MembershipTransportOptions) {
    this.onRefused = options.onRefused
    this.libp2p = options.libp2p
    this.meta = options.meta
    this.maxMetaBytes = options.config.maxMetaBytes
    this.keyring = options.keyring
    this.gossipIntervalMs = options.config.gossipIntervalMs
    if (options.pubsub !== undefined) {
      this.topic = new SealedTopic({
        pubsub: options.pubsub.service, keyring: this.keyring, topic: `/s3mesh/${options.pubsub.cluster}/membership/1`, dropped: this.stats.dropped,
        decode: plain => {
          const m = decodeMessage(plain)
          if (m.type !== 'gossip') throw new DroppedMessageError('malformed', 'Only gossip travels on the membership topic.')
          return m
        },
        onMessage: (via, m) => {
          this.stats.fromPubsub += m.updates.length
          // Gossip's updates name their own subjects and sources; who passed the message on does not matter.
          this.membership.receive(via, m)
          this.schedule()
        },
      })
    }
    this.membership = new Membership({
      id: options.libp2p.peerId.toString(),
      // As many addresses as fit in a member's meta, in the order given.
      meta: fitNodeMeta(options.meta, options.config.maxMetaBytes),
      // With gossipsub, the topic replaces gossip rounds.
      config: this.topic === undefined ? options.config : { ...options.config, gossipIntervalMs: 0 },
      now: () => Date.now(),
      random: options.random ?? Math.random,
      send: (to, message) => { this.send(to, message) },
    })
    // Members' addresses come with their meta: that is how we can dial them later.
    const learn = (e: CustomEvent<MemberInfo>): void => { this.learnAddresses(e.detail) }
    this.membership.addEventListener('member:join', learn)
    this.membership.addEventListener('member:update', learn)
  }

  /** Changes what this member tells the others (its free disk space, say) and spreads it. */
  updateMeta (change: Partial<NodeMeta>): void {
    this.meta = { ...this.meta, ...change }
    this.membership.updateMeta(fitNodeMeta(this.meta, this.maxMetaBytes))
  }

  async start (): Promise<void> {
    await this.libp2p.handle(MEMBERSHIP_PROTOCOL, (stream, connection) => { this.read(stream, connection) }, { runOnLimitedConnection: false })
    if (this.topic !== undefined) {
      this.topic.start()
      this.publishTimer = setInterval(() => { this.publishOriginated() }, this.gossipIntervalMs)
    }
    this.schedule()
  }

  /** Publishes, in one message, the updates this member originated since the last round. */
  private publishOriginated (): void {
    const topic = this.topic
    if (topic === undefined || this.stopped) return
    const updates = this.membership.takeOriginated()
    for (let i = 0; i < updates.length; i += DEFAULT_LIMITS.maxUpdates) {
      const batch = updates.slice(i, i + DEFAULT_LIMITS.maxUpdates)
      const sending = topic.publish(encodeMessage({ type: 'gossip', updates: batch }))
        .then(({ bytes }) => {
          this.stats.published += batch.length
          this.stats.bytesSent += bytes
        })
        .catch(() => { this.stats.sendFailures++ })
      this.inflight.add(sending)
      void sending.finally(() => { this.inflight.delete(sending) })
    }
  }

  /** Dials the given multiaddrs and joins the cluster they belong to. */
  async join (addrs: Array<string | Multiaddr>, options: { signal?: AbortSignal } = {}): Promise<number> {
    const peers: string[] = []
    for (const a of addrs) {
      try {
        const connection = await this.libp2p.dial(typeof a === 'string' ? multiaddr(a) : a, { signal: options.signal })
        peers.push(connection.remotePeer.toString())
      } catch {
        // An unreachable seed is not fatal while another answers.
      }
    }
    this.membership.join(peers)
    this.schedule()
    return peers.length
  }

  /** Leaves the cluster: waits (at most `graceMs`) until the news is written to every member. */
  async leave (graceMs = 2000): Promise<void> {
    this.membership.leave()
    this.publishOriginated()
    const timeout = new Promise(resolve => setTimeout(resolve, graceMs))
    await Promise.race([Promise.allSettled([...this.inflight]), timeout])
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.publishTimer !== undefined) clearInterval(this.publishTimer)
    this.topic?.stop()
    await this.libp2p.unhandle(MEMBERSHIP_PROTOCOL)
    for (const s of this.outbound.values()) void s.then(lp => lp.unwrap().close().catch(() => {}), () => {})
    this.outbound.clear()
  }

  private learnAddresses (m: MemberInfo): void {
    if (m.self) return
    const meta = decodeNodeMeta(m.meta)
    if (meta === undefined || meta.addrs.length === 0) return
    try {
      void this.libp2p.peerStore.merge(peerIdFromString(m.id), { multiaddrs: meta.addrs.map(a => multiaddr(a)) }).catch(() => {})
    } catch {
      // A malformed address in someone's meta: ignore it.
    }
  }

  private send (to: string, message: Message): void {
    if (this.stopped) return
    this.stats.sent++
    let stream: Promise<LpStream> | undefined
    const sending = (async () => {
      const sealed = await this.keyring.seal(encodeMessage(message))
      stream = this.outbound.get(to)
      if (stream === undefined) {
        stream = this.open(peerIdFromString(to))
        this.outbound.set(to, stream)
      }
      await (await stream).write(sealed, { signal: AbortSignal.timeout(this.membership.config.probeTimeoutMs * 4) })
      this.stats.bytesSent += sealed.byteLength
    })().catch(() => {
      // Fire and forget, as UDP is for memberlist: a lost message is what SWIM is built for.
      this.stats.sendFailures++
      // The stream this message tried goes, not one opened since (a failed dial must not drop the stream that replaced it).
      if (this.outbound.get(to) === stream) this.outbound.delete(to)
    })
    this.inflight.add(sending)
    void sending.finally(() => { this.inflight.delete(sending) })
  }

  private async open (peer: PeerId): Promise<LpStream> {
    const stream = await this.libp2p.dialProtocol(peer, MEMBERSHIP_PROTOCOL, { signal: AbortSignal.timeout(this.membership.config.probeTimeoutMs * 4) })
    const lp = lpStream(stream, { maxDataLength: DEFAULT_LIMITS.maxMessageBytes })
    stream.addEventListener('close', () => {
      // Only if it is still the one kept: a newer stream to the peer may have taken its place.
      const kept = this.outbound.get(peer.toString())
      void kept?.then(s => { if (s === lp && this.outbound.get(peer.toString()) === kept) this.outbound.delete(peer.toString()) }, () => {})
    })
    return lp
  }

  private read (stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString()
    // The members' framing (lpStream's, as send writes it) read by SealedFrames, whose first frame is held against
    // the process's budget for its peer's first frames (held-bytes.ts) and whose reads pause the stream when behind.
    const frames = new SealedFrames(stream, this.keyring, { firstFrames: FIRST_FRAMES.for(from), maxFrameBytes: DEFAULT_LIMITS.maxMessageBytes })
    // Until a message opens with the cluster key, the peer is a stranger: its first message must be whole within
    // twice the time a member's write of it is given (send), and 10 s at least (timed from the stream's opening,
    // and a busy event loop reads late), or a stranger could keep up to maxMessageBytes buffered here per
    // stream by trickling it.
    let known = false
    void (async () => {
      while (!this.stopped) {
        const pieces = await frames.receiveData(known ? undefined : AbortSignal.timeout(Math.max(this.membership.config.probeTimeoutMs * 8, 10_000)))
        // A member never sends an empty message: one is the end of what this peer has to say.
        if (pieces === undefined) throw new DroppedMessageError('malformed', 'An empty membership message.')
        const frame = concatBytes(pieces)
        this.stats.bytesReceived += frame.byteLength
        try {
          const plain = await this.keyring.open(frame)
          known = true
          const message = decodeMessage(plain)
          this.stats.received++
          this.membership.receive(from, message)
          this.schedule()
        } catch (err) {
          if (!(err instanceof DroppedMessageError)) throw err
          this.stats.dropped[err.reason]++
          // A peer that cannot seal for this cluster has nothing more to say here.
          if (err.reason === 'wrong-key' || err.reason === 'not-sealed') {
            this.onRefused?.(from, connection.remoteAddr.toString())
            stream.abort(err)
            return
          }
        }
      }
    })().catch(() => { stream.abort(new Error('membership stream closed')) })
  }

  /** Runs the state machine's timers when they are due. */
  private schedule (): void {
    if (this.stopped) return
    const at = this.membership.nextWakeup()
    if (this.timer !== undefined && at >= this.timerAt) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      this.membership.tick()
      this.schedule()
    }, Math.max(0, at - Date.now()))
  }
}
