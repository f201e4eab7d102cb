import type { CatalogEntry } from './catalog-entry.js'
import type { CatalogPartition } from './catalog-partition.js'
import type { CatalogQuery } from './catalog-query.js'
import type { CatalogStore } from './catalog-store.js'
import type { Catalog } from './catalog.js'
import type { DurableMembers } from './durable-members.js'
import type { HolderFetcher } from './holder-fetch.js'
import type { LocalCopies } from './local-copies.js'
import { OwedFetches } from './owed-fetches.js'
import { RetryWaits } from './retry-waits.js'
import { HandOver, handTo, type HandOverBatch } from './hand-over.js'
import { DamagedCopies, damageId } from './damaged-copies.js'
import { entryId, pushId, slotRef, type SlotRef, type Slotted } from './slot-refs.js'

/** Figures for /metrics. */
export interface MeshStats {
  objects: number
  bytes: number
  /** Of those, the ones this member holds a copy of. */
  heldObjects: number
  heldBytes: number
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
  /** Reports of a damaged copy that, read again, hashed to its version (kept). */
  intactReports: number
  /** Versions the catalog said this member held that a read here found no copy of: the claim dropped, the copy fetched again (LostClaims). */
  lostClaims: number
  /** Entries of buckets this member does not own that it handed to an owner (partitioned catalog), by fingerprint or whole. */
  handedOver: number
  /** Of those, the ones sent whole: the owner had them otherwise or not at all (or could not compare). */
  handedWhole: number
}

/** Entries one pass of the repair loop looks at (a pass runs every repairIntervalMs, and when the durable members change). */
const PASS_BUDGET = 5000
/** Fetches kept to start as running ones end (OwedFetches): more are left to a walk, once the queue is down to half. */
const OWED_MAX = PASS_BUDGET
/** After a fetch that failed, the wait before the next owed one starts, ms: fetches that fail at once (no live holder, a full disk) go through the queue at this pace, not all in one go, and do not hold up the rest until the next pass. */
const AFTER_FAILURE_MS = 100

/** A version this young (ms) found short of copies may be a write still on its way to its replicas: it calls for no walk at once. */
const IN_FLIGHT_MS = 5_000
/**
 * The share of a member's time its walks may take once they find nothing to
 * do: a quiet walk is followed by the next after walkIntervalMs, or after a
 * hundred times the time it took, whichever is later. A walk costs about
 * 10 µs an entry on the benchmark machine (2 s for 200,000): a large
 * catalog is walked less often rather than costing a quiet member more. The
 * time is the lesser of the last two walks' (one slowed by a pause or a cold
 * cache does not put the next off; the first walk after a start is followed
 * after walkIntervalMs), and the wait at most QUIET_WALK_MAX_WAITS times
 * walkIntervalMs.
 */
const QUIET_WALK_SHARE = 0.01
const QUIET_WALK_MAX_WAITS = 60
/** How long a version whose fetch failed (or an owner's push of it to a member) waits before it is tried again, ms: doubled at each failure in a row, up to walkIntervalMs. */
const RETRY_FIRST_MS = 1_000

export interface UpkeepOptions {
  copies: LocalCopies
  catalog: Catalog
  durable: DurableMembers
  fetcher: HolderFetcher
  /** Where the catalog is kept between runs, compacted from here when it has grown. */
  catalogStore?: CatalogStore
  replicas: number
  tombstoneTtlMs: number
  /**
   * A walk through every entry starts at most this often (ms) once the last
   * one found nothing to do (MeshConfig.walkIntervalMs), and less often when
   * walks take long (QUIET_WALK_SHARE): a walk at every pass read and parsed
   * 5,000 entries a second again for nothing. What a quiet member still
   * spends is bench/mesh-idle's to say.
   */
  walkIntervalMs: number
  /** Fetches the repair loop runs at once. */
  repairConcurrency: number
  stats: MeshStats
  stopping: AbortSignal
  /** The catalog partitioned by bucket: owners push what placement gives others, non-owners hand their entries to owners. */
  partition?: CatalogPartition
  query?: CatalogQuery
  /** Takes in entries an owner answered with (as gossip would be). */
  receive?: (entries: CatalogEntry[]) => void
}

/**
 * What keeps a member's share of the mesh healthy over time, one pass of
 * the repair loop at a time: counting what is under-replicated, fetching
 * what placement says this member should hold and does not (or holds a
 * rotten copy of), forgetting tombstones past their time on every member
 * alike, and compacting the catalog's journal when it has grown.
 */
export class Upkeep {
  /**
   * Keys whose local copy was found not to match its version: listed as
   * held, but to be fetched again. By when each was found: a walk that began
   * after it and did not meet its version live (deleted since) lets it go.
   */
  private readonly damaged: DamagedCopies
  private compacting = false
  /** The walk through every entry that passes continue, with what it has counted so far. */
  private cycle: {
    entries: IterableIterator<CatalogEntry>, objects: number, bytes: number, held: number, heldBytes: number, under: number, seen: number
    /** The durable members this cycle started under, and whether it hands over every entry of buckets this member does not own. */
    members: string, whole: boolean
    /** When it started, the live durable members then, and whether it has found nothing to do so far. */
    started: number, alive: string, quiet: boolean
    /** When the last write it found still on its way (too few copies, or one this member lacks) will have settled, ms (0: none). */
    recheck: number
    /** The damaged copies whose version it met live. */
    damagedSeen: Set<string>
    /** Time its passes spent on it so far, ms. */
    busyMs: number
  } | undefined

  /** The durable members the last whole hand-over walked under: another list (owners may have changed) calls for another walk. */
  private handedUnder: string | undefined
  /**
   * The last walk through every entry: when it started, under which members,
   * whether it found anything to do, and when the writes it found on their
   * way will have settled (another walk then counts them as they ended up).
   */
  private lastCycle: {
    started: number, members: string, quiet: boolean, recheck: number
    /** The time its passes spent on it, and the lesser of that and the walk's before it (QUIET_WALK_SHARE), ms. */
    walkMs: number, busyMs: number
  } | undefined
  /** Slots whose entry changed since the last pass: looked at in the next pass (as they are by then), between walks too. */
  private readonly changedEntries = new Map<string, SlotRef>()
  /** More changed than a pass looks at (a sync brought many), or more owed fetches than `owed` kept: a walk looks at them instead. */
  private changedOverflow = false
  /**
   * Fetches a pass found and could not start (repairConcurrency run at once):
   * the next starts as a fetch ends, so a member that lost a peer copies at
   * the pace fetches end, not at repairConcurrency a pass (four a second,
   * minutes for a thousand objects), and with no walk to find them again.
   * Each is read from the catalog again when its turn comes.
   */
  private readonly owed = new OwedFetches<SlotRef>(OWED_MAX)
  /** The owed fetch to start after a failure (AFTER_FAILURE_MS), if one is waiting to. */
  private afterFailure: ReturnType<typeof setTimeout> | undefined
  /** When the first tombstone seen since the last walk began passes its time (ms): a walk then drops it, on every member alike. */
  private expiryDue = Infinity
  /**
   * Fetches this loop started and has not seen end, and versions whose last
   * fetch failed, by slot: a full disk or a holder that keeps sending bad
   * bytes costs a try every few seconds, not one at every pass (nor a walk
   * at every pass).
   */
  private readonly fetches = new RetryWaits<SlotRef>(RETRY_FIRST_MS, () => this.o.walkIntervalMs)
  /** An owner's pushes of a version to a member placement gives it (by member and slot), in flight or failed: a member that does not answer is told again after a wait. */
  private readonly pushes = new RetryWaits<SlotRef>(RETRY_FIRST_MS, () => this.o.walkIntervalMs)
  /** Entries of buckets this member does not own, to their owners; owners' pushes, to members. */
  private readonly handOver: HandOver

  constructor (private readonly o: UpkeepOptions) {
    this.damaged = new DamagedCopies({ copies: o.copies, stats: o.stats, stopping: o.stopping, looked: () => { this.pass() } })
    this.handOver = new HandOver({ catalog: o.catalog, query: o.query, receive: o.receive, stats: o.stats, stopping: o.stopping, pushes: this.pushes })
    o.stopping.addEventListener('abort', () => { clearTimeout(this.afterFailure) }, { once: true })
    o.catalog.addEventListener('change', ({ detail: e }) => {
      if (e.key !== undefined) this.lookAgain(e)
    })
    const partition = o.partition
    if (partition === undefined) return
    // Between whole hand-overs only what changed goes to the owners: a member holding a million entries of buckets
    // it does not own does not send them every cycle.
    o.catalog.addEventListener('change', ({ detail: e }) => {
      if (e.key !== undefined && partition.partitioned && !partition.owns(e.bucket)) this.handOver.requeue(e.bucket, [e.key])
    })
  }

  /**
   * Has the next pass look at an entry: one that changed, or whose fetch or push failed or had to wait. False when
   * too many wait: a walk looks at them instead.
   */
  private lookAgain (e: Slotted): boolean {
    if (this.changedOverflow) return false
    if (this.changedEntries.size >= PASS_BUDGET) { this.changedOverflow = true; this.changedEntries.clear(); return false }
    this.changedEntries.set(entryId(e), slotRef(e))
    return true
  }

  /** A local copy was reported not to hash to its version: read again, and dropped and fetched again if it does not (DamagedCopies.report). */
  corrupt (bucket: string, key: string, sha256: string, versionId?: string): void {
    this.damaged.report(bucket, key, sha256, versionId)
  }

  /** Whether this member is to fetch its copy of `e`'s slot again (lost or damaged), and has not yet. */
  refetching (e: CatalogEntry): boolean {
    return e.key !== undefined && this.damaged.has(damageId(e.bucket, e.key, this.o.copies.localId(e)))
  }

  /**
   * This member's copy of a version it was listed as holding is gone (deleted
   * by hand, lost with its disk), its claim dropped here: fetched back as a
   * damaged copy is, whatever placement says. The others still list this
   * member (merging only adds holders), so where its copy stood in for a
   * placement pick (DurableMembers.placed), nobody else would fetch it.
   */
  lost (e: CatalogEntry): void {
    if (e.key === undefined) return
    const id = damageId(e.bucket, e.key, this.o.copies.localId(e))
    this.damaged.add(id)
    this.lookAgain(e)
  }

  /**
   * Fetches a version this member should hold, or a damaged copy again. One
   * that fails is looked at again once its wait ends (a walk may be ten
   * seconds off). The next owed fetch starts as one ends well, or
   * AFTER_FAILURE_MS after one fails.
   */
  private fetch (e: CatalogEntry): void {
    const id = damageId(e.bucket, e.key!, this.o.copies.localId(e))
    const tried = entryId(e)
    this.fetches.start(tried)
    void this.o.fetcher.fetch(e).then(() => {
      this.o.stats.repaired++
      this.damaged.delete(id)
      this.fetches.forget(tried)
      return true
    }, () => {
      if (!this.o.stopping.aborted) this.fetches.failed(tried, slotRef(e), Date.now())
      return false
    }).then(worked => {
      this.fetches.ended(tried)
      // Its slot may have a newer version by now (an overwrite), passed over while this one was being fetched.
      this.lookAgain(e)
      if (worked) this.startOwed()
      else if (this.afterFailure === undefined && this.owed.size > 0 && !this.o.stopping.aborted) {
        this.afterFailure = setTimeout(() => { this.afterFailure = undefined; this.startOwed() }, AFTER_FAILURE_MS)
      }
      this.countQueue()
    })
  }

  /**
   * Starts owed fetches while fewer than repairConcurrency of the member's
   * fetches run (a read's fetch takes a place too), each as its slot is
   * now: one deleted, held or no longer placed here by then is passed over
   * (a key overwritten in a bucket without versions has its newer version
   * fetched), one running or waiting after a failure is left to that.
   */
  private startOwed (): void {
    if (this.o.stopping.aborted) return
    const now = Date.now()
    while (this.o.fetcher.inFlight < this.o.repairConcurrency) {
      const next = this.owed.take()
      if (next === undefined) break
      const [id, ref] = next
      const e = this.o.catalog.slot(ref.bucket, ref.key, ref.versionId)
      if (e === undefined || e.deleted || e.object === undefined || this.fetches.holds(id, now)) continue
      const damaged = this.damaged.has(damageId(e.bucket, e.key!, this.o.copies.localId(e)))
      if (this.mustFetch(e, damaged, this.o.durable.placed(e, this.o.replicas))) this.fetch(e)
    }
    // Some were dropped for want of room: down to half, the next pass walks to find them.
    if (this.owed.roomAgain()) this.changedOverflow = true
    this.countQueue()
  }

  /**
   * Whether this member should fetch `e`: its copy is damaged, or placement
   * (`placed`, DurableMembers.placed) gives it a version it lacks. The one
   * rule for a pass's fetches and the owed ones started later.
   */
  private mustFetch (e: CatalogEntry, damaged: boolean, placed: readonly string[]): boolean {
    const self = this.o.copies.self
    return damaged || (!e.holders.includes(self) && placed.includes(self))
  }

  /** The repair queue's gauge, kept current as fetches start and end (a walk, which also sets it, may be minutes off). */
  private countQueue (): void {
    this.o.stats.repairQueue = this.o.fetcher.inFlight + this.owed.size
  }

  /** Whether entries of buckets this member does not own that changed are still to reach an owner, or a pass's exchange (hand-overs and an owner's pushes) still runs (partitioned catalog). */
  get handingOver (): boolean { return this.handOver.pending }

  /**
   * One pass: the entries that changed since the last one, then the next
   * PASS_BUDGET entries of the walk through every entry (counts, expiry,
   * compaction), and the fetches this member owes. A pass looks at no more
   * than that, so a catalog of millions (on disk) costs the same per pass as
   * a small one; the counts are published when a walk ends. A walk starts
   * again after walkIntervalMs, once the writes the last one found on their
   * way have settled (so the counts say where they ended up), or at once
   * when there is reason to.
   */
  pass (): void {
    const { catalog, durable, stats } = this.o
    const self = this.o.copies.self
    const live = new Set(durable.list())
    const want = Math.min(this.o.replicas, Math.max(1, live.size))
    const horizon = Date.now() - this.o.tombstoneTtlMs
    // Versions newer than this may still be on their way to their replicas (the writer has its copy in its catalog first).
    const settled = Date.now() - IN_FLIGHT_MS
    const partition = this.o.partition?.partitioned === true ? this.o.partition : undefined
    // Whole after a start, after ownership changed and after a member came back from a cut (either side may have
    // missed the other's writes); else only what changed is handed over.
    const members = partition === undefined ? '' : `${durable.owning().sort().join(',')}/${durable.rejoins}`
    const alive = `${[...live].sort().join(',')}/${durable.rejoins}`
    // Another list of live members (a holder came back, a dead one was found) ends every wait: tried again at this pass.
    this.fetches.under(alive)
    this.pushes.under(alive)
    const now = Date.now()
    // A version whose wait has ended is looked at again (only then: a wait costs nothing per pass).
    this.fetches.due(now, e => this.lookAgain(e))
    // Not while an exchange runs: what this pass would tell is dropped then (see HandOver.exchange), and the wait with it.
    if (!this.handOver.busy) this.pushes.due(now, e => this.lookAgain(e))
    const last = this.lastCycle
    const overflow = this.changedOverflow
    this.changedOverflow = false
    // A walk in progress may have passed some of what overflowed: another one follows it.
    if (overflow && this.cycle !== undefined) this.cycle.quiet = false
    const due = overflow || last === undefined || !last.quiet || last.members !== alive || this.damaged.since(last.started) || (partition !== undefined && members !== this.handedUnder) || now >= Math.min(last.started + Math.max(this.o.walkIntervalMs, Math.min(last.busyMs / QUIET_WALK_SHARE, QUIET_WALK_MAX_WAITS * this.o.walkIntervalMs)), this.expiryDue, last.recheck === 0 ? Infinity : last.recheck)
    if (this.cycle === undefined && due) {
      this.expiryDue = Infinity
      this.cycle = { entries: catalog.all(), objects: 0, bytes: 0, held: 0, heldBytes: 0, under: 0, seen: 0, members, whole: partition !== undefined && members !== this.handedUnder, started: Date.now(), alive, quiet: true, recheck: 0, damagedSeen: new Set(), busyMs: 0 }
    }
    const cycle = this.cycle
    // Changed in the middle of a cycle: the rest of it is handed over now, and the next cycle (this one ends under the
    // old list) hands over what this one walked before.
    if (cycle !== undefined && partition !== undefined && members !== cycle.members) cycle.whole = true
    const todo: CatalogEntry[] = []
    /** What todo holds: an entry that changed and that the walk meets in the same pass is fetched (and counted) once. */
    const fetching = new Set<string>()
    /** The same for what assign holds (pushId). */
    const telling = new Set<string>()
    const expired: CatalogEntry[] = []
    let done = false
    /** Entries of buckets this member does not own, to hand to an owner; entries placement gives other members, to push to them. */
    const handing: HandOverBatch = new Map()
    const assign = new Map<string, CatalogEntry[]>()
    // Worked out once per bucket a pass (ownership hashes the bucket's name).
    const owning = new Map<string, boolean>()
    const ownsBucket = (b: string): boolean => {
      let v = owning.get(b)
      if (v === undefined) owning.set(b, v = partition?.owns(b) ?? true)
      return v
    }
    /**
     * What placement asks of a live version: an owner tells the members it gives a copy and that lack it; this member
     * fetches what it should hold. `fetch`: this member fetches it now (or owes the fetch); `told`: only told others;
     * `waiting`: this member lacks it, and its fetch is running or owed, or failed and tries again when its wait ends.
     */
    const place = (e: CatalogEntry, owned: boolean, damaged: boolean): 'fetch' | 'told' | 'waiting' | 'none' => {
      const placed = durable.placed(e, this.o.replicas)
      let told = false
      // An owner tells the members placement now gives a copy and that lack it (they may never have heard of it); one
      // that did not answer the last time waits its turn. Told, a member fetches it itself (and retries as it must).
      if (partition !== undefined && owned) {
        for (const t of placed) {
          if (t === self || e.holders.includes(t) || !live.has(t)) continue
          const id = pushId(t, e)
          if (telling.has(id) || this.pushes.holds(id, now)) continue
          telling.add(id)
          pushTo(assign, t, e)
          told = true
        }
      }
      // Placement members fetch what they lack, so every version has its copies again after a member is gone. A live
      // holder outside placement's picks (a writer, a spare, a holder from before a member joined) stands in for a
      // pick that lacks it (DurableMembers.placed): copies do not move to a member that joins. Surplus copies stay.
      if (this.mustFetch(e, damaged, placed)) {
        const id = entryId(e)
        // Being fetched, owed, or tried again by the pass its wait ends in: a walk that meets it meanwhile has nothing to do for it.
        if (fetching.has(id) || this.owed.has(id) || this.fetches.holds(id, now)) return 'waiting'
        fetching.add(id)
        todo.push(e)
        return 'fetch'
      }
      if (this.fetches.size > 0) this.fetches.forget(entryId(e))
      return told ? 'told' : 'none'
    }
    // What changed since the last pass (a write that reached gossip but not this replica): looked at now, not at the next walk.
    const changed = [...this.changedEntries]
    this.changedEntries.clear()
    for (const [id, c] of changed) {
      const e = catalog.slot(c.bucket, c.key, c.versionId)
      if (e?.deleted === true) this.expiryDue = Math.min(this.expiryDue, e.version.ms + this.o.tombstoneTtlMs)
      if (e === undefined || e.deleted || e.object === undefined) { this.fetches.forget(id); continue }
      const damaged = this.damaged.has(damageId(e.bucket, e.key!, this.o.copies.localId(e)))
      place(e, ownsBucket(e.bucket), damaged)
    }
    const walking = performance.now()
    for (let n = 0; cycle !== undefined && n < PASS_BUDGET; n++) {
      const next = cycle.entries.next()
      if (next.done === true) { done = true; break }
      const e = next.value
      cycle.seen++
      if (e.key !== undefined && e.deleted) {
        if (e.version.ms < horizon) { expired.push(e); cycle.quiet = false } else this.expiryDue = Math.min(this.expiryDue, e.version.ms + this.o.tombstoneTtlMs)
      }
      if (e.key === undefined) continue
      // Every slot is an entry placed by its key: noncurrent versions are placed, repaired and handed over as current ones are.
      const owned = ownsBucket(e.bucket)
      if (!owned && cycle.whole) handTo(handing, e)
      if (e.deleted || e.object === undefined) continue
      const damagedId = damageId(e.bucket, e.key, this.o.copies.localId(e))
      const damaged = this.damaged.has(damagedId)
      if (damaged) cycle.damagedSeen.add(damagedId)
      const holds = e.holders.includes(self) && !damaged
      if (holds) { cycle.held++; cycle.heldBytes += e.object.size }
      const holding = e.holders.filter(h => live.has(h)).length - (damaged && e.holders.includes(self) ? 1 : 0)
      // Counted by the bucket's owners only: the others see a part of it.
      const under = owned && holding < want
      if (owned) {
        cycle.objects++
        cycle.bytes += e.object.size
        if (under) cycle.under++
      }
      // A write on its way is left to its writer, and looked at again once it has settled (so are too few copies of
      // it, and a member told of it). A fetch found leaves the walk quiet: it starts now or is owed (startOwed), and
      // one the queue had no room for is found by a walk once the queue is down to half (OwedFetches). A fetch running or
      // waiting to try again is left to that fetch. A member told of a version it lacks fetches it itself, and too few
      // copies of a settled version that this member can do nothing more about (another member's full disk) leave the
      // walk quiet: the next quiet walk counts them (and tells that member) again.
      const asked = place(e, owned, damaged)
      if ((asked === 'fetch' || asked === 'told' || (under && asked === 'none')) && e.version.ms >= settled) {
        cycle.recheck = Math.max(cycle.recheck, e.version.ms + IN_FLIGHT_MS)
      }
    }
    if (cycle !== undefined) cycle.busyMs += performance.now() - walking
    // Every member drops the same tombstones (by their version's time), so digests agree again.
    for (const e of expired) catalog.forget(e.bucket, e.key!, e.versionId)
    if (partition !== undefined) {
      this.handOver.changedSince(partition, handing, PASS_BUDGET)
      this.handOver.exchange(partition, handing, assign)
    }
    // Owed ones first (found earlier); they also start as running fetches end.
    this.startOwed()
    const free = Math.max(0, this.o.repairConcurrency - this.o.fetcher.inFlight)
    for (const e of todo.slice(0, free)) this.fetch(e)
    for (const e of todo.slice(free)) this.owed.add(entryId(e), slotRef(e))
    this.countQueue()
    if (cycle === undefined) return
    cycle.seen -= expired.length
    if (!done) return
    this.cycle = undefined
    this.lastCycle = { started: cycle.started, members: cycle.alive, quiet: cycle.quiet && !cycle.whole, recheck: cycle.recheck, walkMs: cycle.busyMs, busyMs: Math.min(cycle.busyMs, this.lastCycle?.walkMs ?? 0) }
    // A damaged copy whose version is gone (deleted since) has nothing to fetch: kept, it would start a walk at every pass.
    this.damaged.forgetUnseen(cycle.started, cycle.damagedSeen)
    // A wait that ended an interval ago and was not renewed by another failure: its version is gone or held by now.
    this.fetches.prune(now, this.o.walkIntervalMs)
    this.pushes.prune(now, this.o.walkIntervalMs)
    if (cycle.whole) this.handedUnder = cycle.members
    const saved = this.o.catalogStore
    if (saved?.wantsCompaction(cycle.seen) === true && !this.compacting) {
      this.compacting = true
      void saved.compact(catalog.all()).catch(() => {}).finally(() => { this.compacting = false })
    }
    Object.assign(stats, { objects: cycle.objects, bytes: cycle.bytes, heldObjects: cycle.held, heldBytes: cycle.heldBytes, underReplicated: cycle.under, repairQueue: this.o.fetcher.inFlight + this.owed.size })
  }
}

function pushTo<K, V> (m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k)
  if (list === undefined) m.set(k, [v])
  else list.push(v)
}
