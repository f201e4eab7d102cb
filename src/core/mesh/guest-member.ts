import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { dialFirst, orderAddresses } from '../wire/dial-first.js'
import { S3Error } from '../errors.js'
import { fromBase64, type Hashes } from '../hashes.js'
import type { ObjectStore } from '../object-store.js'
import { openStream } from '../wire/open-stream.js'
import { PLAIN_FRAMES, SealedFrames } from '../wire/sealed-frames.js'
import { decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import { inKeyOrder, slotOf, type CatalogEntry } from './catalog-entry.js'
import { Catalog } from './catalog.js'
import { GuestGate } from './guest-gate.js'
import { MAX_FOLLOWED, MAX_HELD } from './guest-feed.js'
import { GUEST_PROTOCOL, guestTransfer, type GuestPeer } from './guest-service.js'
import { HolderFetcher } from './holder-fetch.js'
import { compareVersions, HybridClock } from './hlc.js'
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
 * key): it follows a durable member's feed (the buckets, and the entries of
 * what it holds and of the buckets it watches, that its user may list: never
 * the whole catalog), asks that node for listings and other keys, fetches
 * the objects it reads from their holders (other guests first, over WebRTC
 * when connected) and keeps them, tells the node which
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
  /** Buckets whose every change the followed node sends (pages showing them), and how many pages watch each. */
  private readonly watched = new Set<string>()
  private readonly watchers = new Map<string, number>()

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
        await this.gate.checkGet(g, r.bucket, r.key, 'unknown')
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

  /** One request to the followed node (or, before there is one, the first durable member), and its answer. */
  private async ask (request: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const node = this.following ?? this.durable()[0]
    if (node === undefined) throw new S3Error('ServiceUnavailable', 'This tab follows no node yet.')
    const frames = await this.open(node, signal)
    try {
      await frames.send({ ...request, admission: this.admission })
      const a = await frames.receive()
      await frames.close()
      if (a.status === 'refused') throw new S3Error('AccessDenied', String(a.message))
      return a
    } catch (err) {
      frames.abort(err as Error)
      throw err
    }
  }

  /** One key's (or bucket's) entry from the followed node: for what the guest may read but not list, and after its own writes. */
  async lookup (bucket: string, key?: string, signal?: AbortSignal): Promise<CatalogEntry | undefined> {
    if (this.following === undefined && this.durable().length === 0) return undefined
    const a = await this.ask({ op: 'lookup', bucket, ...(key === undefined ? {} : { key }) }, signal)
    // Gone (a delete long enough ago that its tombstone was dropped): what this tab knew of it is stale.
    if (a.status === 'not-found' && key !== undefined) this.catalog.evict(bucket, key)
    if (a.status !== 'ok' || !(a.entries instanceof Uint8Array)) return undefined
    const entries = decodeCatalogMessage(a.entries).entries
    this.reconciler.receive(entries)
    // The node answers a key's head. A guest keeps no other slot of it: one deleted by id since (the tab's own delete,
    // or another's it does not follow) would otherwise stay newest here, and so its head.
    const answered = new Set(entries.filter(e => e.bucket === bucket && e.key === key).map(slotOf))
    if (key !== undefined && answered.size > 0) {
      for (const e of this.catalog.slots(bucket, key)) if (!answered.has(slotOf(e))) this.catalog.evict(bucket, key, e.versionId)
    }
    return this.catalog.get(bucket, key)
  }

  /**
   * The entry of a version this tab just wrote, as the node's answer to the
   * write gave it (`encoded`: a catalog message, base64; a lookup costs a
   * round trip and a stream). Taken as a lookup's answer would be, but only
   * slots older than it go (a newer one the feed brought stays). Undefined
   * when it is not an entry of that key's object: the caller asks instead.
   */
  written (bucket: string, key: string, encoded: string): CatalogEntry | undefined {
    const bytes = fromBase64(encoded)
    if (bytes === undefined) return undefined
    let entry: CatalogEntry | undefined
    try {
      entry = decodeCatalogMessage(bytes).entries[0]
    } catch {
      return undefined
    }
    if (entry === undefined || entry.bucket !== bucket || entry.key !== key || entry.deleted || entry.object === undefined) return undefined
    this.reconciler.receive([entry])
    for (const e of this.catalog.slots(bucket, key)) if (slotOf(e) !== slotOf(entry) && compareVersions(e.version, entry.version) < 0) this.catalog.evict(bucket, key, e.versionId)
    return this.catalog.get(bucket, key)
  }

  /**
   * A page of a bucket's listing from the followed node (this tab keeps no
   * bucket whole): the live entries after `startAfter` under `prefix`, whether
   * more follow, and where the next page starts. Kept in this tab's catalog
   * when it follows the bucket (its changes come with the feed).
   */
  async list (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }, signal?: AbortSignal): Promise<{ entries: CatalogEntry[], isTruncated: boolean, after?: string }> {
    const a = await this.ask({ op: 'list', bucket, limit: Math.min(1000, Math.max(1, options.limit)), ...(options.prefix === undefined ? {} : { prefix: options.prefix }), ...(options.startAfter === undefined ? {} : { startAfter: options.startAfter }) }, signal)
    if (a.status !== 'ok' || !(a.entries instanceof Uint8Array)) throw new S3Error('ServiceUnavailable', 'The node did not answer the listing.')
    const entries = inKeyOrder(decodeCatalogMessage(a.entries).entries.filter(e => e.bucket === bucket && e.key !== undefined && !e.deleted && e.object !== undefined))
    if (this.watched.has(bucket)) this.reconciler.receive(entries)
    return { entries, isTruncated: a.truncated === true, ...(typeof a.after === 'string' ? { after: a.after } : {}) }
  }

  /** Live objects and bytes of each bucket this tab's user may list whole, as the followed node counts them. */
  async totals (buckets: string[], signal?: AbortSignal): Promise<Map<string, { objects: number, bytes: number }>> {
    const a = await this.ask({ op: 'totals', buckets: buckets.slice(0, 1000) }, signal)
    const out = new Map<string, { objects: number, bytes: number }>()
    for (const t of Array.isArray(a.totals) ? a.totals : []) {
      if (Array.isArray(t) && typeof t[0] === 'string' && Number.isInteger(t[1]) && Number.isInteger(t[2])) out.set(t[0], { objects: t[1] as number, bytes: t[2] as number })
    }
    return out
  }

  /**
   * Follows these buckets' changes (a page showing them) until the returned
   * function is called; pages watching at once are added up. What this tab
   * knew of a bucket it starts or stops following, besides what it holds, is
   * dropped: it may be stale (nobody told it of changes), and a page lists
   * again anyway.
   */
  watch (buckets: Iterable<string>): () => void {
    const mine = [...new Set(buckets)]
    for (const b of mine) this.watchers.set(b, (this.watchers.get(b) ?? 0) + 1)
    this.rewatch()
    let released = false
    return () => {
      if (released) return
      released = true
      for (const b of mine) {
        const n = (this.watchers.get(b) ?? 1) - 1
        if (n === 0) this.watchers.delete(b)
        else this.watchers.set(b, n)
      }
      this.rewatch()
    }
  }

  /** Tells the followed node the buckets watched now, when they changed. */
  private rewatch (): void {
    const next = new Set([...this.watchers.keys()].slice(0, MAX_FOLLOWED))
    const changed = [...next].filter(b => !this.watched.has(b)).concat([...this.watched].filter(b => !next.has(b)))
    if (changed.length === 0) return
    for (const b of changed) this.forgetUnheld(b)
    this.watched.clear()
    for (const b of next) this.watched.add(b)
    void this.feed?.send({ buckets: [...next] }).catch(() => {})
  }

  /** Drops what this tab knows of a bucket's objects but those it holds (their changes reach it). */
  private forgetUnheld (bucket: string): void {
    for (const e of [...this.catalog.entries(bucket)]) if (e.key !== undefined && !e.holders.includes(this.self)) this.catalog.evict(bucket, e.key, e.versionId)
  }

  /**
   * Whether this tab's entry for a key is current: the feed tells of every
   * change to a key it holds and to a bucket it follows. Any other entry may
   * be stale, and is asked of the node again before it is used.
   */
  trusts (bucket: string, key: string): boolean {
    return this.watched.has(bucket) || this.catalog.get(bucket, key)?.holders.includes(this.self) === true
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
      const a = await frames.receive()
      await frames.close()
      // A version newer than the one announced: this copy is stale, and goes.
      if (a.newer instanceof Uint8Array) this.reconciler.receive(decodeCatalogMessage(a.newer).entries)
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
          await this.followNode(id)
        } catch {
          // That one could not be followed (or the feed ended): the next.
        }
      }
      await new Promise(resolve => setTimeout(resolve, this.o.retryMs ?? 2000))
    }
  }

  /** The keys whose copies this guest holds (its store's objects), for a feed to tell of their changes. */
  private async heldKeys (): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = []
    const store = this.o.store
    for (const b of await store.listBuckets()) {
      let startAfter: string | undefined
      for (;;) {
        const page = await store.listObjects(b.name, { limit: 1000, ...(startAfter === undefined ? {} : { startAfter }) })
        for (const o of page.objects) {
          if (out.length >= MAX_HELD) return out
          out.push([b.name, o.key])
        }
        if (!page.isTruncated || page.objects.length === 0) break
        startAfter = page.objects.at(-1)!.key
      }
    }
    return out
  }

  private async followNode (node: string): Promise<void> {
    const held = await this.heldKeys().catch(() => [])
    // Changes to watched buckets while no feed was open were missed: what was known of them besides holdings goes.
    for (const b of this.watched) this.forgetUnheld(b)
    const frames = await this.open(node)
    this.feed = frames
    this.following = node
    this.stats.feedsOpened++
    try {
      await frames.send({ op: 'feed', admission: this.admission, follow: true, addrs: this.o.addresses?.() ?? [], held, buckets: [...this.watched] })
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
