import type { GossipSub } from '@libp2p/gossipsub'
import { TypedEventEmitter } from 'main-event'
import type { Libp2p } from '@libp2p/interface'
import type { Hashes } from '../hashes.js'
import { isS3Error, S3Error } from '../errors.js'
import { MEMBER_EVENTS, type MemberInfo } from '../membership/member-events.js'
import type { Membership } from '../membership/membership.js'
import { FEATURES } from '../membership/node-meta.js'
import type { ObjectStore } from '../object-store.js'
import type { Keyring } from '../wire/keyring.js'
import { Announcer } from './announcer.js'
import { AntiEntropy } from './anti-entropy.js'
import { compareSlotAge, type CatalogEntry } from './catalog-entry.js'
import type { CatalogStore } from './catalog-store.js'
import { Catalog } from './catalog.js'
import { CatalogPartition } from './catalog-partition.js'
import { CatalogQuery } from './catalog-query.js'
import { WriteArbiter } from './write-arbiter.js'
import { BucketCloser } from './bucket-close.js'
import type { MeshConfig } from './config.js'
import { DurableMembers } from './durable-members.js'
import { HybridClock } from './hlc.js'
import { HolderFetcher } from './holder-fetch.js'
import { HolderNotices } from './holder-notices.js'
import { LocalCopies } from './local-copies.js'
import { MeshStore } from './mesh-store.js'
import { Reconciler } from './reconciler.js'
import { Replicator } from './replicator.js'
import { LostClaims } from './lost-claims.js'
import { adoptedLater, adoptLocal, dropLostClaims, loadSaved, removedByHand } from './startup.js'
import { TransferService } from './transfer.js'
import { Upkeep, type MeshStats } from './upkeep.js'

export type { MeshStats } from './upkeep.js'

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

/** Where an object is: GET /_s3mesh/v1/locate. */
export interface Location {
  entry?: CatalogEntry
  /** The members that should hold it (DurableMembers.placed; placement's picks for the key where no entry is known). */
  placement: string[]
  holders: Array<{ id: string, state: string }>
}

/** How long after a member joins its catalog is compared with it: members started together find each other first. */
const JOIN_SYNC_DELAY_MS = 2_000

/**
 * One member of the object mesh, put together from its parts: the catalog
 * with its announcements and anti-entropy, this member's own copies, the
 * transfer protocol, replication of new writes, fetching from holders,
 * reconciling with what others say, and the upkeep loop that keeps every
 * object at `replicas` copies. `store` is the ObjectStore the S3 handler uses.
 * The parts talk down to each other, never back up to this.
 */
export class MeshNode {
  readonly self: string
  readonly catalog: Catalog
  readonly clock = new HybridClock()
  readonly stats: MeshStats = { objects: 0, bytes: 0, heldObjects: 0, heldBytes: 0, underReplicated: 0, repairQueue: 0, repaired: 0, badHolders: 0, driftRefused: 0, corruptCopies: 0, intactReports: 0, lostClaims: 0, handedOver: 0, handedWhole: 0 }
  readonly copies: LocalCopies
  readonly store: MeshStore
  readonly transfer: TransferService
  readonly announcer: Announcer
  readonly antiEntropy: AntiEntropy
  /** Which buckets' part of the catalog this member owns, and reads of the rest from their owners. */
  readonly partition: CatalogPartition
  readonly query: CatalogQuery
  /** Orders conditional writes: a bucket's leading owner decides which of two racing writes of a key goes ahead. */
  readonly arbiter: WriteArbiter
  /** Orders a bucket's delete with the writes to it at every durable member. */
  readonly closer: BucketCloser
  /** The leading owner's notices to members holding keys of buckets they do not own (they do not hear those buckets' announcements). */
  readonly notices: HolderNotices
  /** Entries heard and not kept here (buckets this member does not own): `passed` (a guest following such a bucket is told). */
  readonly heard = new TypedEventEmitter<{ passed: CustomEvent<CatalogEntry> }>()
  private readonly durable: DurableMembers
  private readonly fetcher: HolderFetcher
  private readonly reconciler: Reconciler
  readonly upkeep: Upkeep
  private readonly lostClaims: LostClaims
  private readonly stopping = new AbortController()
  private timers: Array<ReturnType<typeof setInterval>> = []
  /** The check of this member's store against a catalog kept on disk, running after start. */
  private background: Promise<void> | undefined
  /** Whether this member's claims and its store were found to agree in this run (the next start may skip the check). */
  private checked = false
  private readonly onMember = (e: CustomEvent<MemberInfo>): void => {
    this.membersChanged()
    // A member that (re)joins gets our catalog and gives us its own, once the members starting with it have joined
    // too: compared while only two or three were known, every bucket would be compared whole (each would own all).
    if (e.type === 'member:join' && !e.detail.self) {
      const peer = e.detail.id
      const timer = setTimeout(() => {
        this.joinSyncs.delete(timer)
        void this.antiEntropy.syncWith(peer, this.stopping.signal).then(() => { this.partition.synced(peer) }, () => {})
      }, JOIN_SYNC_DELAY_MS)
      this.joinSyncs.add(timer)
    }
  }

  private passing: ReturnType<typeof setTimeout> | undefined
  /** A repair pass in a moment (once for the membership events of one turn). */
  private passSoon (): void {
    if (this.passing !== undefined || this.stopping.signal.aborted) return
    this.passing = setTimeout(() => {
      this.passing = undefined
      if (!this.stopping.signal.aborted) this.upkeep.pass()
    }, 0)
  }

  /** Comparisons with members that just joined, waiting for JOIN_SYNC_DELAY_MS. */
  private readonly joinSyncs = new Set<ReturnType<typeof setTimeout>>()

  /** Placement and the catalog's ownership worked out again. */
  private membersChanged (): void {
    const before = this.durable.list().join(',')
    this.durable.update()
    // A durable member gone (or come): the repair loop looks at once, not at its next tick up to repairIntervalMs
    // later, so what a dead member held is fetched again that much sooner.
    if (this.durable.list().join(',') !== before) this.passSoon()
    this.arbiter.membersChanged(this.catalog.bucketNames())
    this.relisten()
    // Buckets this member now owns and did not: compared whole with another owner at once (their reads go there meanwhile).
    for (const peer of new Set(this.partition.update().map(b => this.partition.others(b)[0]).filter((p): p is string => p !== undefined))) {
      void this.antiEntropy.syncWith(peer, this.stopping.signal).then(() => { this.partition.synced(peer) }, () => {})
    }
  }

  private readonly onCatalogChange = (e: CustomEvent<CatalogEntry>): void => { this.o.catalogStore?.record(e.detail) }
  /** A bucket made or deleted: the bucket topics this member listens to change with the buckets it owns. */
  private readonly onBucketChange = (e: CustomEvent<CatalogEntry>): void => { if (e.detail.key === undefined) this.relisten() }
  private relistening = false

  /** Subscribes to the topics of the buckets this member owns now (once for a burst of changes). */
  private relisten (): void {
    if (this.relistening) return
    this.relistening = true
    queueMicrotask(() => {
      this.relistening = false
      const owned: string[] = []
      for (const b of this.catalog.bucketNames()) if (this.catalog.get(b)?.deleted === false && this.partition.owns(b)) owned.push(b)
      this.announcer.listen(owned)
    })
  }

  constructor (private readonly o: MeshNodeOptions) {
    this.self = o.libp2p.peerId.toString()
    this.catalog = new Catalog(o.catalogStore?.table)
    const { catalog, clock, stats } = this
    const { config, hashes } = o
    const stopping = this.stopping.signal
    const receive = (_from: string, entries: CatalogEntry[]): void => { this.reconciler.receive(entries) }
    this.durable = new DurableMembers(o.membership, config.ownerGraceMs)
    const partition = this.partition = new CatalogPartition({ self: this.self, catalog, durable: this.durable, owners: config.catalogReplicas, replicas: config.replicas })
    this.query = partition.query = new CatalogQuery({
      libp2p: o.libp2p, keyring: o.keyring, catalog, receive,
      owns: b => partition.owns(b), owners: b => partition.others(b),
      persist: async () => { await o.catalogStore?.flush(true) },
    })
    // An object's entry goes to its bucket's owners (and followers); until every owner listens, to every member.
    this.announcer = new Announcer(o.pubsub, o.keyring, o.cluster, this.self, receive, b => partition.others(b))
    this.notices = new HolderNotices({ self: this.self, catalog, partition, durable: this.durable, query: this.query, stopping })
    // A bucket both own is compared whole; of the others only the bucket's own entry.
    const shares = (peer: string, bucket: string): boolean => !partition.partitioned || (partition.owns(bucket) && partition.owners(bucket).includes(peer))
    this.antiEntropy = new AntiEntropy(o.libp2p, o.keyring, catalog, receive, undefined, shares)
    const copies = this.copies = new LocalCopies(o.local, { self: this.self, catalog, clock, hashes, announce: entries => { this.announcer.announce(entries) } })
    this.transfer = new TransferService(o.libp2p, o.keyring, {
      openLocal: async (bucket, key, sha256, signal, versionId) => await copies.openLocal(bucket, key, sha256, signal, versionId),
      accept: async (_from, entry, body, signal) => {
        // Merged first, so that a concurrent older copy is refused; quiet: the writer announces it with its replicas.
        clock.observe(entry.version)
        catalog.apply(entry)
        if (await copies.storeVersion(entry, body, { signal, quiet: true }) === undefined) throw new Error('a newer version of that key exists')
      },
      acceptStreamed: async (_from, head, body, entry, signal) => { await copies.storeStreamed(head, body, entry, signal) },
      hashes,
      onCorrupt: (bucket, key, sha256, versionId) => { this.upkeep.corrupt(bucket, key, sha256, versionId) },
      onMissing: (bucket, key, sha256, versionId) => { this.lostClaims.missing(bucket, key, sha256, versionId) },
    }, { idleTimeoutMs: config.transferIdleTimeoutMs })
    const parts = { copies, catalog, durable: this.durable, transfer: this.transfer, stopping }
    this.fetcher = new HolderFetcher({
      copies, catalog, transfer: this.transfer, stopping, onBadHolder: () => { stats.badHolders++ },
      holders: e => e.holders.filter(h => h !== this.self && this.durable.reachable(h)),
    })
    this.reconciler = new Reconciler({
      copies, catalog, clock, tombstoneTtlMs: config.tombstoneTtlMs, onDriftRefused: () => { stats.driftRefused++ }, stopping,
      keeps: e => partition.keeps(e), passedOn: e => { this.heard.safeDispatchEvent('passed', { detail: e }) },
    })
    this.upkeep = new Upkeep({
      ...parts, fetcher: this.fetcher, stats, replicas: config.replicas, tombstoneTtlMs: config.tombstoneTtlMs, walkIntervalMs: config.walkIntervalMs, repairConcurrency: config.repairConcurrency,
      partition, query: this.query, receive: entries => { this.reconciler.receive(entries) },
      ...(o.catalogStore === undefined ? {} : { catalogStore: o.catalogStore }),
    })
    this.lostClaims = new LostClaims({ catalog, copies, stopping, stats, lost: e => { this.upkeep.lost(e) }, refetching: e => this.upkeep.refetching(e), reachable: m => this.durable.reachable(m) })
    this.arbiter = new WriteArbiter({
      libp2p: o.libp2p, keyring: o.keyring, self: this.self,
      arbiterOf: b => partition.owners(b)[0],
      current: async (b, k, signal) => await partition.entry(b, k, signal, { holders: true }),
      slot: (b, k, slot) => catalog.slot(b, k, slot === '' ? undefined : slot),
    })
    this.closer = new BucketCloser({
      libp2p: o.libp2p, keyring: o.keyring, catalog, clock, receive: entries => { this.reconciler.receive(entries) },
      members: () => { const old = new Set(this.durable.lacking(FEATURES.bucketClose)); return this.durable.list().filter(id => id !== this.self && !old.has(id)) },
      // A store without the bucket has none; one that cannot say refuses the delete (503), rather than call the bucket not empty.
      uploadsIn: async bucket => await o.local.listMultipartUploads(bucket).then(u => u.length > 0, (err: unknown) => {
        if (isS3Error(err, 'NoSuchBucket')) return false
        throw new S3Error('ServiceUnavailable', `A member could not say whether it has multipart uploads in progress in ${bucket}: ${err instanceof Error ? err.message : String(err)}`)
      }),
    })
    this.store = new MeshStore({
      copies, catalog, hashes,
      replicator: new Replicator({ ...parts, replicas: config.replicas, writeQuorum: config.writeQuorum }),
      fetch: async (entry, signal) => await this.fetcher.fetch(entry, signal),
      stream: async entry => await this.fetcher.stream(entry),
      keeps: e => this.durable.placed(e, config.replicas).includes(this.self),
      readThrough: async (entry, whole, signal) => await this.fetcher.readThrough(entry, whole, signal),
      readRange: async (entry, range, signal) => await this.fetcher.readRange(entry, range, signal),
      onCorrupt: entry => { this.upkeep.corrupt(entry.bucket, entry.key!, entry.object!.sha256, copies.localId(entry)) },
      onMissing: entry => { this.lostClaims.missing(entry.bucket, entry.key!, entry.object!.sha256, copies.localId(entry)) },
      announced: async () => { await this.announcer.flush() },
      persist: async () => { await o.catalogStore?.flush(true) },
      partition,
      arbiter: this.arbiter,
      closer: this.closer,
      versionsBlockedBy: () => this.durable.lacking(FEATURES.versions),
      objectLockBlockedBy: () => this.durable.lacking(FEATURES.objectLock),
      conditionalDeletesBlockedBy: () => this.durable.lacking(FEATURES.conditionalDeletes),
    })
  }

  /**
   * Loads the saved catalog, takes the local store's buckets and objects into
   * it, then starts the protocols and loops.
   */
  async start (): Promise<void> {
    const { catalogStore, config } = this.o
    let imported = 0
    if (catalogStore !== undefined) {
      imported = await loadSaved({ catalog: this.catalog, clock: this.clock, self: this.self, saved: catalogStore, tombstoneTtlMs: config.tombstoneTtlMs })
      this.catalog.addEventListener('change', this.onCatalogChange)
    }
    const adopting = { catalog: this.catalog, clock: this.clock, copies: this.copies, reconciler: this.reconciler, stopping: this.stopping.signal, lost: (e: CatalogEntry) => { this.upkeep.lost(e) } }
    // Heard before the walk below, so a file adopted meanwhile is not missed (taking one twice is harmless: entries merge).
    const unsubscribe = this.o.local.onAdopted?.((bucket, info) => {
      const e = adoptedLater(adopting, bucket, info)
      if (e !== undefined) this.announcer.announce([e])
    })
    if (unsubscribe !== undefined) this.stopping.signal.addEventListener('abort', unsubscribe, { once: true })
    const unsubscribeRemoved = this.o.local.onRemoved?.((bucket, key) => { void removedByHand(adopting, bucket, key).catch(() => {}) })
    if (unsubscribeRemoved !== undefined) this.stopping.signal.addEventListener('abort', unsubscribeRemoved, { once: true })
    // A catalog in memory, a table made on this start, or one just filled from an older journal (without this member's
    // claims) has nothing to serve from until the store's objects are in it.
    if (catalogStore?.table === undefined || catalogStore.fresh === true || imported > 0) {
      this.announcer.announce(await adoptLocal(adopting))
      this.checked = true
    } else if (catalogStore.checkedInSession !== undefined && catalogStore.checkedInSession === this.o.local.session?.previous) {
      // Stopped cleanly after a check, and nothing opened the store since: catalog and store agreed then, and what
      // changed in the folder meanwhile the store's own scan finds (files placed or deleted by hand). A million
      // objects are not walked again at every restart.
      this.checked = true
    } else {
      // The catalog on disk kept this member's claims: it serves at once, and its store is checked against them meanwhile.
      this.background = (async () => {
        this.announcer.announce(await adoptLocal(adopting))
        await dropLostClaims(adopting)
        this.checked = !this.stopping.signal.aborted
      })().catch(() => {})
    }
    await this.transfer.start()
    await this.antiEntropy.start()
    await this.query.start()
    await this.arbiter.start()
    await this.closer.start()
    this.announcer.start()
    this.catalog.addEventListener('change', this.onBucketChange)
    this.notices.start()
    for (const name of MEMBER_EVENTS) this.o.membership.addEventListener(name, this.onMember)
    this.durable.update()
    this.partition.update()
    this.arbiter.membersChanged(this.catalog.bucketNames())
    this.relisten()
    this.timers.push(setInterval(() => { void this.syncRandom() }, config.syncIntervalMs))
    this.timers.push(setInterval(() => {
      // A gone member's grace ended: its buckets' ownership moves to the members left.
      if (this.durable.graceEnded) this.membersChanged()
      this.upkeep.pass()
    }, config.repairIntervalMs))
  }

  async stop (): Promise<void> {
    this.stopping.abort()
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const t of this.joinSyncs) clearTimeout(t)
    this.joinSyncs.clear()
    clearTimeout(this.passing)
    for (const name of MEMBER_EVENTS) this.o.membership.removeEventListener(name, this.onMember)
    await this.background
    this.catalog.removeEventListener('change', this.onBucketChange)
    await this.notices.stop()
    await this.announcer.stop()
    await this.antiEntropy.stop()
    await this.query.stop()
    await this.arbiter.stop()
    await this.closer.stop()
    await this.transfer.stop()
    await this.fetcher.settled()
    this.catalog.removeEventListener('change', this.onCatalogChange)
    const session = this.o.local.session?.current
    await this.o.catalogStore?.close(this.checked && session !== undefined ? { checked: session } : {})
  }

  /** Hears of a bucket's object entries (owned or not) until the returned function is called: a guest's page, a blocking locate. */
  follow (bucket: string): () => void {
    return this.announcer.follow(bucket)
  }

  /** Durable members alive or suspected (a suspect may still answer), this one included. */
  durableMembers (): string[] {
    return this.durable.list()
  }

  /** The cluster's name (members of other clusters cannot open its messages). */
  get cluster (): string { return this.o.cluster }

  /** Copies each object is meant to have. */
  get replicas (): number { return this.o.config.replicas }

  /** Where (bucket, key) is, as the owners know; `heard`, an entry of it seen here, answers if they have no newer one yet. */
  async locate (bucket: string, key?: string, signal?: AbortSignal, heard?: CatalogEntry): Promise<Location> {
    // Who holds it, as the owners know: a copy held here does not hear of every other copy made.
    const asked = key === undefined ? this.catalog.get(bucket) : await this.partition.entry(bucket, key, signal, { holders: true })
    // An owner may take in an announcement a moment after a follower here did: what was heard is not unsaid.
    const entry = heard !== undefined && (asked === undefined || compareSlotAge(heard, asked) > 0) ? heard : asked
    const states = new Map(this.o.membership.list().map(m => [m.id, m.state]))
    return {
      ...(entry === undefined ? {} : { entry }),
      placement: key === undefined ? [] : entry?.key === undefined ? this.durable.replicas(bucket, key, this.o.config.replicas) : this.durable.placed(entry, this.o.config.replicas),
      holders: (entry?.holders ?? []).map(id => ({ id, state: states.get(id) ?? 'unknown' })),
    }
  }

  private async syncRandom (): Promise<void> {
    const others = this.durable.list().filter(id => id !== this.self)
    const peer = others[Math.floor(Math.random() * others.length)]
    if (peer !== undefined) await this.antiEntropy.syncWith(peer, this.stopping.signal).then(() => { this.partition.synced(peer) }, () => {})
  }
}
