import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { dialFirst, orderAddresses } from '../wire/dial-first.js'
import { S3Error } from '../errors.js'
import type { Hashes } from '../hashes.js'
import type { ObjectStore } from '../object-store.js'
import { openStream } from '../wire/open-stream.js'
import { PLAIN_FRAMES, SealedFrames } from '../wire/sealed-frames.js'
import { decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'
import { Catalog } from './catalog.js'
import { GuestGate } from './guest-gate.js'
import { GUEST_PROTOCOL, guestTransfer, type GuestPeer } from './guest-service.js'
import { HolderFetcher } from './holder-fetch.js'
import { HybridClock } from './hlc.js'
import { LocalCopies } from './local-copies.js'
import { Reconciler } from './reconciler.js'
import type { TransferService } from './transfer.js'

export interface GuestMemberOptions {
  /** The guest's libp2p node: its peer id is the one admitted. */
  libp2p: Libp2p
  /** The guest's own copies (IndexedDB in a tab). */
  store: ObjectStore
  hashes: Hashes
  cluster: string
  /** The admission its node signed (renew() replaces it). */
  admission: Uint8Array
  /** Durable members to follow (the relays the join answered with): multiaddrs with /p2p/<id>. */
  relays: string[]
  /** The guest's own addresses, told to the node for other guests' WebRTC dials. */
  addresses?: () => string[]
  /** Waiting for a peer longer than this fails the request, ms. */
  idleTimeoutMs?: number
  /** After a feed ends, how long before following again, ms. */
  retryMs?: number
}

/** How long a read from another tab may take before the next holder is tried, ms. */
const GUEST_FETCH_MS = 10_000

/** Other guests a guest keeps a direct connection to. */
const GUEST_LINKS = 4

/** Tombstones a guest keeps, ms: it forgets them with the rest when it closes. */
const GUEST_TOMBSTONE_MS = 24 * 3600_000

/**
 * A guest of the mesh (a browser tab admitted by a node, with no cluster
 * key): it follows a durable member's feed of the catalog entries its user
 * may list, fetches the objects it reads from their holders (other guests
 * first, over WebRTC when connected) and keeps them, tells the node which
 * versions it holds, and serves them to other guests whose admission lets
 * them read them. It never makes a version: its writes go through S3 to a node.
 */
export class GuestMember {
  readonly self: string
  readonly catalog = new Catalog()
  readonly clock = new HybridClock()
  readonly copies: LocalCopies
  readonly hashes: Hashes
  /** Decides other guests' requests from the records their admission carries. */
  readonly gate: GuestGate
  readonly transfer: TransferService
  /** The durable members and the other guests, as the followed node last told them. */
  readonly peers = new Map<string, GuestPeer>()
  readonly stats = { fetched: 0, fetchedFromGuests: 0, feedsOpened: 0, refused: undefined as string | undefined }
  private admission: Uint8Array
  private feed: SealedFrames | undefined
  private following: string | undefined
  private readonly reconciler: Reconciler
  private readonly stopping = new AbortController()
  private readonly fetcher: HolderFetcher
  private resolveSynced!: () => void
  /** Resolves once the first feed has sent everything the guest may list. */
  readonly synced = new Promise<void>(resolve => { this.resolveSynced = resolve })
  private readonly listeners = new Set<() => void>()
  private readonly dialing = new Set<string>()
  private readonly durableSeen = new Set<string>()

  constructor (private readonly o: GuestMemberOptions) {
    this.self = o.libp2p.peerId.toString()
    this.admission = o.admission
    this.hashes = o.hashes
    this.copies = new LocalCopies(o.store, { self: this.self, catalog: this.catalog, clock: this.clock, hashes: o.hashes, announce: entries => { void this.announce(entries) } })
    this.reconciler = new Reconciler({ copies: this.copies, catalog: this.catalog, clock: this.clock, tombstoneTtlMs: GUEST_TOMBSTONE_MS, onDriftRefused: () => {}, stopping: this.stopping.signal })
    // Any durable member its node ever named may have admitted another tab (one that died since too, until its admissions expire).
    this.gate = new GuestGate({ cluster: o.cluster, isIssuer: id => this.durableSeen.has(id) })
    this.transfer = guestTransfer(o.libp2p, this.copies, o.hashes, {
      idleTimeoutMs: o.idleTimeoutMs ?? 10_000,
      credentials: () => ({ admission: this.admission }),
      // Another guest asking: decided by its admission's records, as its node would decide it.
      authorize: async (from, r) => {
        const g = await this.gate.who(from, r.admission)
        if (r.op !== 'get' || typeof r.bucket !== 'string' || typeof r.key !== 'string') {
          this.gate.count('denied')
          throw new Error('Guests only fetch from guests.')
        }
        this.gate.check(g, 's3:GetObject', r.bucket, r.key)
      },
    })
    this.fetcher = new HolderFetcher({
      copies: this.copies, catalog: this.catalog, transfer: this.transfer, stopping: this.stopping.signal, onBadHolder: () => {},
      holders: e => this.holders(e),
      // Another tab gets a deadline: one that claims a copy and sends it slowly must not hold the read up.
      deadlineMs: h => this.peers.get(h)?.role === 'guest' ? GUEST_FETCH_MS : undefined,
      onFetched: h => {
        this.stats.fetched++
        if (this.peers.get(h)?.role === 'guest') this.stats.fetchedFromGuests++
      },
    })
  }

  /** Calls `listener` when the peers or the catalog's feed state change (the console redraws). */
  onChange (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async start (): Promise<void> {
    await this.transfer.start()
    void this.followLoop()
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    this.feed?.abort(new Error('stopping'))
    await this.transfer.stop()
    await this.fetcher.settled()
  }

  /** A renewed admission: used from now on, and handed to the followed node. */
  async renew (admission: Uint8Array): Promise<void> {
    this.admission = admission
    this.stats.refused = undefined
    await this.feed?.send({ admission }).catch(() => {})
  }

  /** Tells the followed node this guest's addresses changed (a relay reserved it a slot: WebRTC addresses). */
  async updateAddresses (): Promise<void> {
    await this.feed?.send({ addrs: this.o.addresses?.() ?? [] }).catch(() => {})
  }

  /** The durable member followed now. */
  get node (): string | undefined { return this.following }

  /** One key's (or bucket's) entry from the followed node: for what the guest may read but not list, and after its own writes. */
  async lookup (bucket: string, key?: string, signal?: AbortSignal): Promise<CatalogEntry | undefined> {
    const node = this.following ?? this.durable()[0]
    if (node === undefined) return undefined
    const frames = await this.open(node, signal)
    try {
      await frames.send({ op: 'lookup', admission: this.admission, bucket, ...(key === undefined ? {} : { key }) })
      const a = await frames.receive()
      await frames.close()
      if (a.status === 'refused') throw new S3Error('AccessDenied', String(a.message))
      if (a.status !== 'ok' || !(a.entries instanceof Uint8Array)) return undefined
      const entries = decodeCatalogMessage(a.entries).entries
      this.reconciler.receive(entries)
      return this.catalog.get(bucket, key)
    } catch (err) {
      frames.abort(err as Error)
      throw err
    }
  }

  /** Fetches a version from its holders (guests connected now first, then durable members), verified, kept and announced. */
  async fetch (entry: CatalogEntry, signal?: AbortSignal): Promise<CatalogEntry> {
    return await this.fetcher.fetch(entry, signal)
  }

  /** An entry's holders to read from: other tabs connected now, durable members, then other tabs (unknown ones never). */
  private holders (entry: CatalogEntry): string[] {
    const connected = new Set(this.o.libp2p.getConnections().filter(c => c.limits === undefined).map(c => c.remotePeer.toString()))
    const rank = (h: string): number => this.peers.get(h)?.role === 'guest' ? (connected.has(h) ? 0 : 2) : this.peers.get(h)?.role === 'durable' ? 1 : 3
    return entry.holders.filter(h => h !== this.self && rank(h) < 3).sort((a, b) => rank(a) - rank(b))
  }

  /** Tells the followed node which versions this guest now holds, so other guests can fetch from it. */
  private async announce (entries: CatalogEntry[]): Promise<void> {
    const node = this.following
    // Its own holding only (the others' are the node's business).
    const held = entries.filter(e => e.key !== undefined && !e.deleted && e.holders.includes(this.self)).map(e => ({ ...e, holders: [this.self] }))
    if (node === undefined || held.length === 0) return
    const frames = await this.open(node).catch(() => undefined)
    if (frames === undefined) return
    try {
      await frames.send({ op: 'announce', admission: this.admission, entries: encodeCatalogMessage(held) })
      await frames.receive()
      await frames.close()
    } catch (err) {
      frames.abort(err as Error)
    }
  }

  /** The members whose feed a tab can follow: durable ones and relays. */
  private durable (): string[] {
    return [...this.peers.values()].filter(p => p.role === 'durable' || p.role === 'relay').map(p => p.id)
  }

  private async open (peer: string, signal?: AbortSignal): Promise<SealedFrames> {
    const timeout = this.o.idleTimeoutMs ?? 10_000
    const s = AbortSignal.any([signal ?? this.stopping.signal, this.stopping.signal])
    const stream = await openStream(this.o.libp2p, peer, GUEST_PROTOCOL, AbortSignal.any([s, AbortSignal.timeout(timeout)]))
    return new SealedFrames(stream, PLAIN_FRAMES, { signal: s, idleTimeoutMs: timeout })
  }

  /** Follows a durable member's feed, the relays first; when it ends, the next one, after a pause. */
  private async followLoop (): Promise<void> {
    const s = this.stopping.signal
    while (!s.aborted) {
      const candidates = [...this.o.relays.map(a => a.split('/p2p/').at(-1)).filter((id): id is string => id !== undefined && id !== ''), ...this.durable()]
      for (const id of [...new Set(candidates)]) {
        if (s.aborted) return
        try {
          if (!this.o.libp2p.getConnections().some(c => c.remotePeer.toString() === id && c.limits === undefined)) {
            // The join's addresses for it in their order (the tab's transports), else the ones the feed gave.
            const given = this.o.relays.filter(a => a.endsWith(`/p2p/${id}`))
            const addrs = given.length > 0 ? given : orderAddresses(this.peers.get(id)?.addrs ?? []).map(a => a.includes('/p2p/') ? a : `${a}/p2p/${id}`)
            if (addrs.length > 0) await dialFirst(this.o.libp2p, addrs, AbortSignal.any([s, AbortSignal.timeout(10_000)]))
          }
          await this.follow(id)
        } catch {
          // That one could not be followed (or the feed ended): the next.
        }
      }
      await new Promise(resolve => setTimeout(resolve, this.o.retryMs ?? 2000))
    }
  }

  private async follow (node: string): Promise<void> {
    const frames = await this.open(node)
    this.feed = frames
    this.following = node
    this.stats.feedsOpened++
    try {
      await frames.send({ op: 'feed', admission: this.admission, follow: true, addrs: this.o.addresses?.() ?? [] })
      for (;;) {
        const m = await frames.receive(undefined, 24 * 3600_000)
        if (m.status === 'refused') {
          this.stats.refused = String(m.reason)
          this.changed()
          throw new Error(`The node refused this guest: ${String(m.message)}`)
        }
        if (Array.isArray(m.peers)) {
          this.peers.clear()
          for (const p of m.peers as GuestPeer[]) {
            if (typeof p?.id !== 'string' || p.id === this.self || !Array.isArray(p.addrs)) continue
            this.peers.set(p.id, p)
            // Durable members and relays admit tabs: their admissions are the ones to honour.
            if (p.role === 'durable' || p.role === 'relay') this.durableSeen.add(p.id)
            // Where to dial it: a guest through its relay (WebRTC), a durable member directly.
            try {
              void this.o.libp2p.peerStore.merge(peerIdFromString(p.id), { multiaddrs: p.addrs.map(a => multiaddr(a)) }).catch(() => {})
            } catch {
              // An address or id that does not parse: not dialled.
            }
          }
          this.linkGuests()
          this.changed()
        }
        if (m.entries instanceof Uint8Array) this.reconciler.receive(decodeCatalogMessage(m.entries).entries)
        if (m.synced === true) { this.resolveSynced(); this.changed() }
      }
    } finally {
      if (this.feed === frames) { this.feed = undefined; this.following = undefined }
      frames.abort(new Error('feed ended'))
    }
  }

  /** Keeps direct connections (WebRTC, through the relay) to a few of the other guests: reads from them come first. */
  private linkGuests (): void {
    const connected = new Set(this.o.libp2p.getConnections().filter(c => c.limits === undefined).map(c => c.remotePeer.toString()))
    const guests = [...this.peers.values()].filter(p => p.role === 'guest' && p.addrs.length > 0)
    let linked = guests.filter(p => connected.has(p.id)).length
    for (const p of guests) {
      if (linked >= GUEST_LINKS || connected.has(p.id) || this.dialing.has(p.id)) continue
      linked++
      this.dialing.add(p.id)
      void this.o.libp2p.dial(peerIdFromString(p.id), { signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(30_000)]) })
        .catch(() => {}).finally(() => { this.dialing.delete(p.id) })
    }
  }

  private changed (): void {
    for (const l of this.listeners) l()
  }
}
