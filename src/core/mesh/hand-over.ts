import { compareSlotAge, type CatalogEntry } from './catalog-entry.js'
import type { CatalogPartition } from './catalog-partition.js'
import type { CatalogQuery } from './catalog-query.js'
import type { Catalog } from './catalog.js'
import type { RetryWaits } from './retry-waits.js'
import { pushId, slotId, slotRef, type SlotRef } from './slot-refs.js'
import type { MeshStats } from './upkeep.js'

/** What a pass hands to owners: entries by bucket, each bucket's by slot (slotId). */
export type HandOverBatch = Map<string, Map<string, CatalogEntry>>

export interface HandOverOptions {
  catalog: Catalog
  query?: CatalogQuery
  /** Takes in entries an owner answered with (as gossip would be). */
  receive?: (entries: CatalogEntry[]) => void
  stats: Pick<MeshStats, 'handedOver' | 'handedWhole'>
  stopping: AbortSignal
  /** An owner's pushes of a version to a member (the repair loop's, which decides them). */
  pushes: RetryWaits<SlotRef>
}

/**
 * A partitioned catalog's traffic between members for the repair loop: a
 * member that keeps entries of buckets it does not own hands them to an
 * owner (all of them at a whole walk, between walks what changed), and an
 * owner pushes the entries placement gives a member to that member. One
 * pass's exchange runs at a time.
 */
export class HandOver {
  /** Hand-overs and assignments in flight (one pass's at a time). */
  private exchanging = false
  /** Keys of buckets this member does not own whose entries changed since they were last handed to an owner, by bucket. */
  private readonly changed = new Map<string, Set<string>>()

  constructor (private readonly o: HandOverOptions) {}

  /** Whether the last pass's exchange is still running. */
  get busy (): boolean { return this.exchanging }

  /** Whether keys changed since they were last handed to an owner wait for a pass, or an exchange is running. */
  get pending (): boolean { return this.exchanging || this.changed.size > 0 }

  /** Has these keys of a bucket this member does not own handed to an owner at the next pass. */
  requeue (bucket: string, keys: Iterable<string>): void {
    let set = this.changed.get(bucket)
    if (set === undefined) this.changed.set(bucket, set = new Set())
    for (const k of keys) set.add(k)
  }

  /**
   * A partitioned catalog's exchanges for one pass: what this member keeps
   * of buckets it does not own goes to an owner, which answers with what it
   * knows of those keys (newer versions and deletes this member missed); an
   * entry this member no longer needs (the bucket's owner it was, a copy it
   * no longer holds) is dropped once an owner has it. Owners push the
   * entries placement gives a member that lacks the copy.
   */
  exchange (partition: CatalogPartition, handOver: HandOverBatch, assign: Map<string, CatalogEntry[]>): void {
    const query = this.o.query
    if (query === undefined || (handOver.size === 0 && assign.size === 0)) return
    if (this.exchanging) {
      // The last pass's exchange is still running: what this one would hand over waits for the next. What it would
      // tell is left to the next quiet walk (looked at again at every pass, a backlog told while a slow exchange ran
      // grew into a walk at every pass).
      for (const [bucket, entries] of handOver) this.requeue(bucket, [...entries.values()].map(e => e.key!))
      return
    }
    this.exchanging = true
    // Running until the exchange ends (passes meanwhile tell nothing: see above).
    const told = new Map([...assign].map(([member, entries]) => [member, entries.map(e => pushId(member, e))]))
    for (const ids of told.values()) for (const id of ids) this.o.pushes.start(id)
    const signal = this.o.stopping
    void (async () => {
      for (const [bucket, byKey] of handOver) {
        const entries = [...byKey.values()]
        let handed = false
        for (const owner of partition.others(bucket)) {
          try {
            // Fingerprints first: after a restart the owners have nearly all of it already, and a key with its
            // fingerprint is a tenth of an entry. An owner that cannot compare (an older version) gets them whole.
            let whole = entries
            try { whole = await query.differing(owner, bucket, entries, signal) } catch { if (signal.aborted) return }
            const known = whole.length === 0 ? [] : await query.merge(owner, whole, signal)
            handed = true
            this.o.stats.handedOver += entries.length
            this.o.stats.handedWhole += whole.length
            this.o.receive?.(known)
            const theirs = new Map<string, CatalogEntry>(known.map(k => [slotId(k), k]))
            const sent = new Set(whole)
            for (const e of entries) {
              const now = this.o.catalog.slot(bucket, e.key!, e.versionId)
              // The owner has what was compared, or answered with what it has.
              const held = sent.has(e) ? theirs.get(slotId(e)) : e
              if (now !== undefined && !partition.keeps(now) && held !== undefined && compareSlotAge(held, now) >= 0) this.o.catalog.evict(bucket, e.key!, now.versionId)
            }
            break
          } catch {
            // That owner did not answer: the next.
          }
        }
        // No owner answered: handed over again next pass.
        if (!handed) this.requeue(bucket, [...byKey.values()].map(e => e.key!))
      }
      for (const [member, entries] of assign) {
        const ids = told.get(member)!
        try {
          await query.merge(member, entries, signal)
          for (const id of ids) this.o.pushes.forget(id)
        } catch {
          // Asked again once its wait ends (not left to the next walk, which may be minutes off in a large catalog).
          if (!signal.aborted) entries.forEach((e, i) => { this.o.pushes.failed(ids[i]!, slotRef(e), Date.now()) })
        }
      }
    })().finally(() => {
      this.exchanging = false
      // Also when stopped half-way: none stays marked as running.
      for (const ids of told.values()) for (const id of ids) this.o.pushes.ended(id)
    })
  }

  /** Adds to a pass's hand-over the entries that changed since they were last handed, up to `budget` keys. */
  changedSince (partition: CatalogPartition, handOver: HandOverBatch, budget: number): void {
    for (const [bucket, keys] of this.changed) {
      const owned = partition.owns(bucket)
      for (const key of keys) {
        if (budget-- <= 0) return
        keys.delete(key)
        if (!owned) for (const e of this.o.catalog.slots(bucket, key)) handTo(handOver, e)
      }
      this.changed.delete(bucket)
    }
  }
}

/** Adds an entry to a pass's hand-over. */
export function handTo (m: HandOverBatch, e: CatalogEntry): void {
  let byKey = m.get(e.bucket)
  if (byKey === undefined) m.set(e.bucket, byKey = new Map())
  byKey.set(slotId(e), e)
}
