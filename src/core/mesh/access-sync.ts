/**
 * Keeps every durable member's access state (users, keys, policies, bucket
 * policies) the same. A change is gossiped at once on a sealed topic, so a
 * disabled key is refused everywhere within a gossip round; anti-entropy
 * catches up whatever gossip missed (a member that was down, a partition):
 * on each member's join and every `intervalMs` with one random durable
 * member, the two compare digests and, when they differ, exchange every
 * entry and merge. Everything travels sealed with the cluster key, secrets
 * included: only members can read it.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { encode } from 'cborg'
import { asEntry, type AccessEntry } from '../access/access-records.js'
import type { AccessState } from '../access/access-state.js'
import type { Membership } from '../membership/membership.js'
import { decodeNodeMeta } from '../membership/node-meta.js'
import type { Keyring } from '../wire/keyring.js'
import { openStream } from '../wire/open-stream.js'
import { SealedFrames } from '../wire/sealed-frames.js'
import { SealedTopic } from '../wire/sealed-topic.js'
import { decodeStrictMap, dropCounts, DroppedMessageError } from '../wire/strict-cbor.js'
import { FIRST_FRAMES } from '../wire/held-bytes.js'

export const ACCESS_PROTOCOL = '/s3mesh/access/1.0.0'
/** A gossiped change is one commit: a few records. */
const MAX_GOSSIP_BYTES = 256 * 1024
const EXCHANGE_TIMEOUT_MS = 10_000

export interface AccessSyncOptions {
  libp2p: Libp2p
  pubsub: GossipSub
  keyring: Keyring
  cluster: string
  state: AccessState
  membership: Membership
  /** How often anti-entropy runs with one random durable member, ms. */
  intervalMs?: number
}

export class AccessSync {
  readonly stats = { gossipSent: 0, gossipReceived: 0, exchanges: 0, merged: 0, dropped: dropCounts() }
  private readonly topic: SealedTopic<AccessEntry[]>
  private stopListening?: () => void
  private timer?: ReturnType<typeof setInterval>
  private readonly onJoin = (e: CustomEvent<{ id: string, self: boolean, meta: Uint8Array }>): void => {
    // Tabs keep no access state: only durable members are asked.
    if (!e.detail.self && decodeNodeMeta(e.detail.meta)?.role === 'durable') void this.exchange(e.detail.id).catch(() => {})
  }

  constructor (private readonly o: AccessSyncOptions) {
    this.topic = new SealedTopic<AccessEntry[]>({
      pubsub: o.pubsub, keyring: o.keyring, topic: `/s3mesh/${o.cluster}/access/1`, dropped: this.stats.dropped,
      decode: plain => entriesOf(decodeStrictMap(plain, 'access change', MAX_GOSSIP_BYTES), this.stats.dropped),
      onMessage: (_from, entries) => {
        this.stats.gossipReceived++
        void this.o.state.merge(entries).then(m => { this.stats.merged += m.length }).catch(() => {})
      },
    })
  }

  async start (): Promise<void> {
    this.topic.start()
    await this.o.libp2p.handle(ACCESS_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { runOnLimitedConnection: false })
    this.stopListening = this.o.state.onChange((entries, local) => {
      if (!local) return
      this.stats.gossipSent++
      // No subscriber yet (a lone node) is normal: anti-entropy brings the change to whoever joins.
      void this.topic.publish(encode({ entries })).catch(() => {})
    })
    this.o.membership.addEventListener('member:join', this.onJoin as EventListener)
    this.timer = setInterval(() => { void this.tick() }, this.o.intervalMs ?? 30_000)
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.stopListening?.()
    this.o.membership.removeEventListener('member:join', this.onJoin as EventListener)
    this.topic.stop()
    await this.o.libp2p.unhandle(ACCESS_PROTOCOL)
  }

  /** Durable members alive now, other than this one. */
  private peers (): string[] {
    return this.o.membership.list().filter(m => !m.self && m.state === 'alive' && decodeNodeMeta(m.meta)?.role === 'durable').map(m => m.id)
  }

  private async tick (): Promise<void> {
    const peers = this.peers()
    if (peers.length === 0) return
    await this.exchange(peers[Math.floor(Math.random() * peers.length)]!).catch(() => {})
  }

  /** Compares digests with a member and, when they differ, both send everything and merge. */
  async exchange (peer: string, signal?: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS)
    const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    const frames = new SealedFrames(await openStream(this.o.libp2p, peer, ACCESS_PROTOCOL, s), this.o.keyring, { signal: s, idleTimeoutMs: EXCHANGE_TIMEOUT_MS })
    try {
      this.stats.exchanges++
      await frames.send({ type: 'digest', digest: this.o.state.digest() })
      const first = await frames.receive()
      if (first.type === 'same') return
      await this.receiveState(frames, first)
      await sendState(frames, this.o.state.all())
      await frames.receive().catch(() => {})
    } finally {
      await frames.close()
    }
  }

  /** Merges state frames, `first` already received, until the one marked last. */
  private async receiveState (frames: SealedFrames, first: Record<string, unknown>): Promise<void> {
    let msg = first
    for (;;) {
      if (msg.type !== 'state') throw new Error('The member sent something other than its access state.')
      this.stats.merged += (await this.o.state.merge(entriesOf(msg, this.stats.dropped))).length
      if (msg.last === true) return
      msg = await frames.receive()
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    // The asker opens with its digest: a few bytes.
    const frames = new SealedFrames(stream, this.o.keyring, { idleTimeoutMs: EXCHANGE_TIMEOUT_MS, firstFrameMaxBytes: 4096, firstFrames: FIRST_FRAMES.for(connection.remotePeer.toString()) })
    try {
      const first = await frames.receive()
      if (first.type !== 'digest' || typeof first.digest !== 'string') throw new Error('not an access exchange')
      if (first.digest === this.o.state.digest()) {
        await frames.send({ type: 'same' })
      } else {
        await sendState(frames, this.o.state.all())
        await this.receiveState(frames, await frames.receive())
        await frames.send({ type: 'done' })
      }
      await frames.close()
    } catch (err) {
      frames.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

/** The entries of a message; a malformed one is skipped (and counted), the others kept. */
function entriesOf (msg: Record<string, unknown>, dropped?: Record<string, number>): AccessEntry[] {
  if (!Array.isArray(msg.entries)) throw new DroppedMessageError('malformed', 'An access message carries no entries.')
  const out: AccessEntry[] = []
  for (const raw of msg.entries) {
    const e = asEntry(raw)
    if (e === undefined) { if (dropped !== undefined) dropped.malformed = (dropped.malformed ?? 0) + 1; continue }
    out.push(e)
  }
  return out
}

/** Entries per frame of an exchange: well under a frame's 4 MiB even for entries holding 6 KB policies. */
const ENTRIES_PER_FRAME = 256

/** Sends every entry in frames of ENTRIES_PER_FRAME, the last marked `last`. */
async function sendState (frames: SealedFrames, entries: AccessEntry[]): Promise<void> {
  for (let i = 0; i === 0 || i < entries.length; i += ENTRIES_PER_FRAME) {
    await frames.send({ type: 'state', entries: entries.slice(i, i + ENTRIES_PER_FRAME), last: i + ENTRIES_PER_FRAME >= entries.length })
  }
}

