import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p } from '@libp2p/interface'
import { isS3Error, S3Error } from '../errors.js'
import type { Hashes } from '../hashes.js'
import type { CatalogStore } from './catalog-store.js'
import type { Keyring } from '../wire/keyring.js'
import { MEMBER_EVENTS, type Membership, type MemberInfo } from '../membership/membership.js'
import { decodeNodeMeta } from '../membership/node-meta.js'
import type { ObjectStore } from '../object-store.js'
import { Announcer } from './announcer.js'
import { AntiEntropy } from './anti-entropy.js'
import type { CatalogEntry } from './catalog-entry.js'
import { Catalog } from './catalog.js'
import type { MeshConfig } from './config.js'
import { ClockDriftError, HybridClock } from './hlc.js'
import { MeshStore, recordOf } from './mesh-store.js'
import { Placement } from './placement.js'
import { TransferService } from './transfer.js'
import { ContentMismatchError } from './verify-stream.js'

export interface MeshNodeOptions {
  libp2p: Libp2p
  pubsub: GossipSub
  keyring: Keyring
  cluster: string
  membership: Membership
  /** This member's own store: disk on a Node node. */
  local: ObjectStore
  hashes: Hashes
  config: MeshConfig
  /** Keeps the catalog across restarts (versions and tombstones); without it a member starts from what its store holds. */
  catalogStore?: CatalogStore
}

/** Figures for /metrics. */
export interface MeshStats {
  objects: number
  bytes: number
  /** Live objects with fewer live holders than min(replicas, durable members alive). */
  underReplicated: number
  /** Fetches queued or running in the repair loop. */
  repairQueue: number
  repaired: number
  /** Holders that sent bytes that did not match the catalog. */
  badHolders: number
  /** Entries refused because their clock was too far ahead. */
  driftRefused: number
  /** Local copies found not to hash to their version (and replaced). */
  corruptCopies: number
}

/** Where an object is: GET /_s3mesh/v1/locate. */
export interface Location {
  entry?: CatalogEntry
  placement: string[]
  holders: Array<{ id: string, state: string }>
}

/**
 * One member of the object mesh: the catalog and its gossip and
 * anti-entropy, the transfer protocol, placement over the durable members
 * that are alive, and the repair loop that keeps every object at `replicas`
 * copies. `store` is the ObjectStore the S3 handler uses.
 */
export class MeshNode {
  readonly self: string
  readonly catalog = new Catalog()
  readonly clock = new HybridClock()
  readonly store: MeshStore
  readonly transfer: TransferService
  readonly announcer: Announcer
  readonly antiEntropy: AntiEntropy
  readonly stats: MeshStats = { objects: 0, bytes: 0, underReplicated: 0, repairQueue: 0, repaired: 0, badHolders: 0, driftRefused: 0, corruptCopies: 0 }
  /** Keys whose local copy was found not to match its version: listed as held, but to be fetched again. */
  private readonly damaged = new Set<string>()
  private placement = new Placement([])
  /** Durable members alive or suspected, this one included: kept with `placement`, on every member event. */
  private durable: string[] = []
  private readonly fetching = new Map<string, Promise<CatalogEntry>>()
  private readonly stopping = new AbortController()
  private timers: Array<ReturnType<typeof setInterval>> = []
  private readonly onMember = (e: CustomEvent<MemberInfo>): void => {
    this.updatePlacement()
    const m = e.detail
    // A member that (re)joins gets our catalog and gives us its own.
    if (e.type === 'member:join' && !m.self) void this.antiEntropy.syncWith(m.id, this.stopping.signal).catch(() => {})
  }

  constructor (private readonly o: MeshNodeOptions) {
    this.self = o.libp2p.peerId.toString()
    this.store = new MeshStore(o.local, {
      self: this.self,
      catalog: this.catalog,
      clock: this.clock,
      hashes: o.hashes,
      announce: entries => { this.announcer.announce(...entries) },
      announced: async () => { await this.announcer.flush() },
      replicate: async (entry, signal) => await this.replicate(entry, signal),
      fetch: async (entry, signal) => await this.fetch(entry, signal),
      onCorrupt: entry => { this.corrupt(entry.bucket, entry.key!, entry.object!.sha256) },
      persist: async () => { await this.o.catalogStore?.flush(true) },
    })
    this.transfer = new TransferService(o.libp2p, o.keyring, {
      openLocal: async (bucket, key, sha256, signal) => await this.store.openLocal(bucket, key, sha256, signal),
      accept: async (_from, entry, body, signal) => {
        // Merged first, so that a concurrent older copy is refused; no reaction needed: the bytes are coming.
        this.clock.observe(entry.version)
        this.catalog.apply(entry)
        // Quiet: the writer announces the version once, with every replica it reached.
        const stored = await this.store.storeVersion(entry, body, { signal, quiet: true })
        if (stored === undefined) throw new Error('a newer version of that key exists')
      },
      hashes: o.hashes,
      onCorrupt: (bucket, key, sha256) => { this.corrupt(bucket, key, sha256) },
    }, { idleTimeoutMs: o.config.transferIdleTimeoutMs })
    this.announcer = new Announcer(o.pubsub, o.keyring, o.cluster, (_from, entries) => { this.receive(entries) })
    this.antiEntropy = new AntiEntropy(o.libp2p, o.keyring, this.catalog, (_from, entries) => { this.receive(entries) })
  }

  /**
   * Loads the saved catalog, takes the local store's buckets and objects into
   * it, then starts the protocols and loops.
   */
  async start (): Promise<void> {
    await this.loadSaved()
    await this.adoptLocal()
    await this.transfer.start()
    await this.antiEntropy.start()
    this.announcer.start()
    for (const name of MEMBER_EVENTS) this.o.membership.addEventListener(name, this.onMember)
    this.updatePlacement()
    this.timers.push(setInterval(() => { void this.syncRandom() }, this.o.config.syncIntervalMs))
    this.timers.push(setInterval(() => { this.repair() }, this.o.config.repairIntervalMs))
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const name of MEMBER_EVENTS) this.o.membership.removeEventListener(name, this.onMember)
    await this.announcer.stop()
    await this.antiEntropy.stop()
    await this.transfer.stop()
    await Promise.allSettled(this.fetching.values())
    this.catalog.removeEventListener('change', this.onCatalogChange)
    await this.o.catalogStore?.close()
  }

  /** Durable members alive or suspected (a suspect may still answer), this one included. */
  durableMembers (): string[] {
    return this.durable
  }

  locate (bucket: string, key?: string): Location {
    const entry = this.catalog.get(bucket, key)
    const states = new Map(this.o.membership.list().map(m => [m.id, m.state]))
    return {
      ...(entry === undefined ? {} : { entry }),
      placement: key === undefined ? [] : this.placement.replicas(bucket, key, this.o.config.replicas),
      holders: (entry?.holders ?? []).map(id => ({ id, state: states.get(id) ?? 'unknown' })),
    }
  }

  /** Entries from gossip or anti-entropy: merged, then acted on (deletes, stale copies, repair). */
  private receive (entries: CatalogEntry[]): void {
    for (const e of entries) {
      try {
        this.clock.observe(e.version)
      } catch (err) {
        if (!(err instanceof ClockDriftError)) throw err
        this.stats.driftRefused++
        continue
      }
      // A tombstone past its time, from a member that has not dropped it yet: already dropped here.
      if (e.deleted && e.key !== undefined && e.version.ms < Date.now() - this.o.config.tombstoneTtlMs) continue
      const merged = this.catalog.apply(e)
      if (merged === undefined) continue
      if (merged.key !== undefined) void this.react(merged).catch(() => {})
      // A bucket deleted elsewhere: its (empty) folder goes here too; one still holding uploads stays.
      else if (merged.deleted) void this.o.local.deleteBucket(merged.bucket, { signal: this.stopping.signal }).catch(() => {})
    }
  }

  /**
   * A local copy does not hash to its version: drop it and fetch the version
   * again from another holder (the repair loop retries until one answers).
   */
  private corrupt (bucket: string, key: string, sha256: string): void {
    const id = `${bucket}\n${key}`
    if (this.damaged.has(id)) return
    this.damaged.add(id)
    this.stats.corruptCopies++
    void this.store.locks.run(id, async () => {
      const handle = await this.store.openLocal(bucket, key, sha256, this.stopping.signal)
      if (handle === undefined) return
      await handle.close()
      await this.store.deleteLocal(bucket, key, this.stopping.signal)
    }).then(() => { this.repair() }, () => {})
  }

  /** Brings the local copy of a key in line with a newer catalog entry. */
  private async react (entry: CatalogEntry): Promise<void> {
    const { bucket, key } = entry
    await this.store.locks.run(`${bucket}\n${key!}`, async () => {
      const now = this.catalog.get(bucket, key)
      if (now === undefined || now.holders.includes(this.self)) return
      const handle = now.deleted ? undefined : await this.store.openLocal(bucket, key!, now.object!.sha256, this.stopping.signal)
      if (handle !== undefined) {
        // We already have these bytes (an earlier copy, or a hand-placed file): say so.
        await handle.close()
        this.store.publish({ ...now, holders: [...now.holders, this.self].sort() })
        return
      }
      // A delete, or a version we do not hold: our copy (if any) is stale.
      await this.store.deleteLocal(bucket, key!, this.stopping.signal)
    })
  }

  /** Every PUT, fetch and repair pass needs these: they are worked out once per member event, not per use. */
  private updatePlacement (): void {
    this.durable = this.o.membership.list().filter(m => (m.state === 'alive' || m.state === 'suspect') && decodeNodeMeta(m.meta)?.role === 'durable').map(m => m.id)
    this.placement = new Placement(this.durable)
  }

  private async syncRandom (): Promise<void> {
    const others = this.durableMembers().filter(id => id !== this.self)
    const peer = others[Math.floor(Math.random() * others.length)]
    if (peer !== undefined) await this.antiEntropy.syncWith(peer, this.stopping.signal).catch(() => {})
  }

  /**
   * Pushes a new version to the replicas placement picks (other than this
   * member) and resolves once the write quorum holds it, or every push has
   * ended; the rest go on in the background. A target that fails is replaced
   * by the next member in the placement order, so a member that died a moment
   * ago (and is not yet known to be dead) costs time, not a copy.
   */
  private async replicate (entry: CatalogEntry, signal?: AbortSignal): Promise<string[]> {
    const live = this.durableMembers()
    const need = Math.min(this.o.config.writeQuorum, this.o.config.replicas, Math.max(1, live.length))
    const ranking = this.placement.replicas(entry.bucket, entry.key!, this.placement.size)
    const targets = ranking.slice(0, this.o.config.replicas).filter(id => id !== this.self)
    const spares = ranking.slice(this.o.config.replicas).filter(id => id !== this.self)
    const copied: string[] = []
    /** Set once the writer has its answer: later copies are announced as they are made. */
    let settled = false
    if (targets.length === 0) return copied
    // Background pushes outlive the request, not the node.
    const s = this.stopping.signal
    const push = async (target: string): Promise<void> => {
      const handle = await this.store.openLocal(entry.bucket, entry.key!, entry.object!.sha256, s)
      if (handle === undefined) throw new Error('the local copy changed')
      await this.transfer.push(target, entry, handle.stream(), s)
    }
    const lane = async (first: string): Promise<void> => {
      for (let target: string | undefined = first; target !== undefined; target = spares.shift()) {
        try {
          await push(target)
          if (settled) this.store.publish({ ...entry, holders: [target] })
          else copied.push(target)
          return
        } catch {
          if (s.aborted) return
        }
      }
    }
    const lanes = targets.map(lane)
    // A browser tab's own copy does not count: it may close at any moment.
    const own = live.includes(this.self) ? 1 : 0
    const quorum = new Promise<void>(resolve => {
      const check = (): void => { if (own + copied.length >= need) resolve() }
      for (const l of lanes) void l.then(check)
    })
    const aborted = new Promise<void>(resolve => { signal?.addEventListener('abort', () => { resolve() }, { once: true }) })
    await Promise.race([quorum, Promise.all(lanes), aborted])
    settled = true
    return [...copied]
  }

  /** Fetches `entry`'s bytes from a live holder into the local store; one fetch per version at a time. */
  private async fetch (entry: CatalogEntry, signal?: AbortSignal): Promise<CatalogEntry> {
    const id = `${entry.bucket}\n${entry.key!}\n${entry.object!.sha256}`
    let running = this.fetching.get(id)
    if (running === undefined) {
      running = this.fetchFromHolders(entry, signal ?? this.stopping.signal).finally(() => { this.fetching.delete(id) })
      this.fetching.set(id, running)
    }
    return await running
  }

  private async fetchFromHolders (entry: CatalogEntry, signal: AbortSignal): Promise<CatalogEntry> {
    const live = new Set(this.durableMembers())
    const holders = entry.holders.filter(h => h !== this.self && (live.has(h) || this.o.membership.get(h)?.state === 'alive'))
    const problems: string[] = []
    for (const holder of holders) {
      try {
        const body = await this.transfer.get(holder, { bucket: entry.bucket, key: entry.key!, sha256: entry.object!.sha256, size: entry.object!.size }, signal)
        const stored = await this.store.storeVersion(entry, body, { signal, checked: true })
        return stored ?? this.catalog.get(entry.bucket, entry.key)!
      } catch (err) {
        if (err instanceof ContentMismatchError) this.stats.badHolders++
        if (signal.aborted) throw err
        problems.push(`${holder}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    throw new S3Error('ServiceUnavailable', holders.length === 0
      ? `No live member holds ${entry.bucket}/${entry.key!} now; try again when its holders are back.`
      : `No member holding ${entry.bucket}/${entry.key!} could send it (${problems.join('; ')}).`)
  }

  /** One pass of the repair loop: counts what is under-replicated and fetches what this member should hold. */
  private repair (): void {
    const live = new Set(this.durableMembers())
    const want = Math.min(this.o.config.replicas, Math.max(1, live.size))
    let objects = 0
    let bytes = 0
    let under = 0
    /** Every entry the catalog keeps (buckets and tombstones too): what a compacted journal holds. */
    let entries = 0
    const todo: CatalogEntry[] = []
    const expired: CatalogEntry[] = []
    const horizon = Date.now() - this.o.config.tombstoneTtlMs
    for (const bucket of this.catalog.bucketNames()) {
      entries++
      for (const e of this.catalog.entries(bucket)) {
        entries++
        if (e.key !== undefined && e.deleted && e.version.ms < horizon) expired.push(e)
        if (e.key === undefined || e.deleted || e.object === undefined) continue
        objects++
        bytes += e.object.size
        const damaged = this.damaged.has(`${bucket}\n${e.key}`)
        const holds = e.holders.includes(this.self) && !damaged
        const holding = e.holders.filter(h => live.has(h)).length - (damaged ? 1 : 0)
        if (holding < want) under++
        // Placement members fetch what they lack, so copies end up where placement says even after
        // a write that fell back to a spare or a membership change; surplus copies stay (never fewer).
        if (damaged || (!holds && this.placement.replicas(bucket, e.key, this.o.config.replicas).includes(this.self))) todo.push(e)
      }
    }
    // Every member drops the same tombstones (by their version's time), so digests agree again.
    for (const e of expired) this.catalog.forget(e.bucket, e.key!)
    const saved = this.o.catalogStore
    if (saved?.wantsCompaction(entries - expired.length) === true && !this.compacting) {
      this.compacting = true
      void saved.compact(this.allEntries()).catch(() => {}).finally(() => { this.compacting = false })
    }
    Object.assign(this.stats, { objects, bytes, underReplicated: under })
    const free = this.o.config.repairConcurrency - this.fetching.size
    this.stats.repairQueue = this.fetching.size + Math.max(0, todo.length - free)
    for (const e of todo.slice(0, Math.max(0, free))) {
      const id = `${e.bucket}\n${e.key!}`
      void this.fetch(e).then(() => { this.stats.repaired++; this.damaged.delete(id) }, () => {})
    }
  }

  /**
   * The catalog as this member last saw it, so a restart remembers versions
   * and deletes. Holder claims for this member are left out: what it holds
   * is whatever adoptLocal finds on disk now.
   */
  private async loadSaved (): Promise<void> {
    const saved = this.o.catalogStore
    if (saved === undefined) return
    const horizon = Date.now() - this.o.config.tombstoneTtlMs
    for (const e of await saved.load()) {
      if (e.deleted && e.key !== undefined && e.version.ms < horizon) continue
      try { this.clock.observe(e.version) } catch { continue }
      this.catalog.apply(e.holders.includes(this.self) ? { ...e, holders: e.holders.filter(h => h !== this.self) } : e)
    }
    this.catalog.addEventListener('change', this.onCatalogChange)
  }

  private readonly onCatalogChange = (e: CustomEvent<CatalogEntry>): void => { this.o.catalogStore?.record(e.detail) }
  private compacting = false

  private * allEntries (): Generator<CatalogEntry> {
    for (const bucket of this.catalog.bucketNames()) {
      const b = this.catalog.get(bucket)
      if (b !== undefined) yield b
      yield * this.catalog.entries(bucket)
    }
  }

  /**
   * Local buckets and objects become catalog entries: a restarted member says
   * what it holds, a new one adopts its folder. A file whose content the
   * catalog already knows keeps that version; one that a newer version or a
   * delete superseded while this member was away is removed.
   */
  private async adoptLocal (): Promise<void> {
    const local = this.o.local
    const entries: CatalogEntry[] = []
    for (const b of await local.listBuckets()) {
      // A bucket the catalog knows keeps its version: a folder is not a newer creation.
      const known = this.catalog.get(b.name)
      const cors = known === undefined ? (await local.headBucket(b.name)).cors : undefined
      entries.push(known !== undefined && !known.deleted ? known : { bucket: b.name, version: { ms: b.created.getTime(), counter: 0, node: this.self }, deleted: false, holders: [], ...(cors === undefined ? {} : { cors }) })
      let startAfter: string | undefined
      for (;;) {
        const page = await local.listObjects(b.name, { startAfter, limit: 1000 })
        for (const o of page.objects) {
          try {
            const info = await local.headObject(b.name, o.key)
            const known = this.catalog.get(b.name, o.key)
            entries.push(known !== undefined && !known.deleted && known.object?.sha256 === info.sha256
              ? { ...known, holders: [this.self] }
              : { bucket: b.name, key: o.key, version: { ms: info.lastModified.getTime(), counter: 0, node: this.self }, deleted: false, object: recordOf(info), holders: [this.self] })
          } catch (err) {
            if (!isS3Error(err, 'NoSuchKey')) throw err
          }
        }
        if (!page.isTruncated || page.objects.length === 0) break
        startAfter = page.objects.at(-1)!.key
      }
    }
    const reactions: Array<Promise<void>> = []
    const deletedBuckets: string[] = []
    for (const e of entries) {
      // A file dated in the future (a skewed clock, a hand-set mtime) is versioned now instead.
      try { this.clock.observe(e.version) } catch { e.version = { ...this.clock.tick(), node: this.self } }
      this.catalog.apply(e)
      // Superseded while this member was away (a newer version, a delete): the catalog's entry decides.
      const now = this.catalog.get(e.bucket, e.key)!
      if (e.key === undefined) {
        if (now.deleted) deletedBuckets.push(e.bucket)
      } else if (now.deleted || !now.holders.includes(this.self)) {
        reactions.push(this.react(now).catch(() => {}))
      }
    }
    // A deleted bucket's folder goes once the objects in it have.
    void Promise.all(reactions).then(async () => {
      for (const name of deletedBuckets) await local.deleteBucket(name, { signal: this.stopping.signal }).catch(() => {})
    })
    this.announcer.announce(...entries)
  }
}
