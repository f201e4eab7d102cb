import { compareSlotAge, type CatalogEntry } from './catalog-entry.js'
import { entryId } from './slot-refs.js'
import type { CatalogPartition } from './catalog-partition.js'
import type { CatalogQuery } from './catalog-query.js'
import type { Catalog } from './catalog.js'
import type { DurableMembers } from './durable-members.js'

export interface HolderNoticesOptions {
  self: string
  catalog: Catalog
  partition: CatalogPartition
  durable: DurableMembers
  query: CatalogQuery
  stopping: AbortSignal
  /** The first wait before a notice no member answered is sent again, ms (doubling at each failure in a row). */
  retryMs?: number
  /** The longest such wait, ms. */
  retryCapMs?: number
}

/** Defaults of HolderNoticesOptions' retryMs and retryCapMs. */
const RETRY_MS = 1_000
const RETRY_CAP_MS = 60_000

export interface HolderNoticeStats {
  /** Entries sent to members holding an older version of a key whose bucket they do not own. */
  sent: number
  /** Sends no member answered (sent again later, while it is a durable member). */
  failed: number
}

/**
 * Announcements of a bucket's objects reach its owners and followers only,
 * so a member holding a copy of a key in a bucket it does not own would not
 * hear that the key was overwritten or deleted elsewhere: it would keep the
 * old bytes and serve them as current. The bucket's leading owner (the first
 * alive) tells it: when a version replaces one with such holders, the new
 * entry is handed to each of them (a catalog merge, batched per member), and
 * their reconciler drops the stale copy. A member that does not answer (busy,
 * suspected, cut off a moment) is sent the newest of them again, after a
 * second, then twice as long each time up to a minute, for as long as it is a
 * durable member: it compares no catalog of the bucket with anyone, and would
 * otherwise serve the old version until the members change.
 */
export class HolderNotices {
  readonly stats: HolderNoticeStats = { sent: 0, failed: 0 }
  private readonly pending = new Map<string, CatalogEntry[]>()
  /** Sends under way, by member: each member's notices go one send at a time, and no member waits for another's. */
  private readonly sending = new Map<string, Promise<void>>()
  private scheduled = false
  /** Members whose last notice failed: what waits to be sent again, how many failed in a row, and the timer. */
  private readonly retries = new Map<string, { entries: CatalogEntry[], failures: number, timer?: ReturnType<typeof setTimeout> }>()
  private stopped = false

  private readonly onReplaced = ({ detail: { before, after } }: CustomEvent<{ before: CatalogEntry, after: CatalogEntry }>): void => {
    const { partition, durable, self } = this.o
    if (!partition.partitioned || !partition.leads(after.bucket)) return
    const owners = partition.owners(after.bucket)
    for (const h of before.holders) {
      if (h === self || after.holders.includes(h) || owners.includes(h) || !durable.has(h)) continue
      this.queue(h, [after])
    }
    this.kick()
  }

  constructor (private readonly o: HolderNoticesOptions) {}

  start (): void {
    this.o.catalog.addEventListener('replaced', this.onReplaced)
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.o.catalog.removeEventListener('replaced', this.onReplaced)
    for (const r of this.retries.values()) clearTimeout(r.timer)
    this.retries.clear()
    await Promise.all(this.sending.values())
  }

  /** Members that are sent notices again later. */
  get waiting (): number { return this.retries.size }

  private queue (member: string, entries: CatalogEntry[]): void {
    const list = this.pending.get(member)
    if (list === undefined) this.pending.set(member, [...entries])
    else list.push(...entries)
  }

  /** Sends what is pending after the current task (a batch of announced entries is applied whole first), to each member not being sent to. */
  private kick (): void {
    if (this.scheduled || this.pending.size === 0) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      if (this.stopped || this.o.stopping.aborted) return
      for (const [member, entries] of [...this.pending]) {
        if (this.sending.has(member)) continue
        this.pending.delete(member)
        this.sending.set(member, this.send(member, entries).finally(() => { this.sending.delete(member); this.kick() }))
      }
    })
  }

  /** `member` did not take `entries`: kept (the newest of each slot) and sent again after a wait, while it is durable. */
  private failed (member: string, entries: CatalogEntry[]): void {
    if (this.stopped || this.o.stopping.aborted || !this.o.durable.has(member)) {
      clearTimeout(this.retries.get(member)?.timer)
      this.retries.delete(member)
      return
    }
    const r = this.retries.get(member) ?? { entries: [], failures: 0 }
    clearTimeout(r.timer)
    const newest = new Map<string, CatalogEntry>()
    for (const e of [...r.entries, ...entries]) {
      const id = entryId(e)
      const had = newest.get(id)
      if (had === undefined || compareSlotAge(e, had) > 0) newest.set(id, e)
    }
    r.entries = [...newest.values()]
    r.failures++
    const wait = Math.min(this.o.retryCapMs ?? RETRY_CAP_MS, (this.o.retryMs ?? RETRY_MS) * 2 ** (r.failures - 1))
    r.timer = setTimeout(() => {
      r.timer = undefined
      if (!this.o.durable.has(member)) { this.retries.delete(member); return }
      this.queue(member, r.entries)
      r.entries = []
      this.kick()
    }, wait)
    // A retry never keeps the process alive.
    if (typeof r.timer === 'object' && 'unref' in r.timer) r.timer.unref()
    this.retries.set(member, r)
  }

  /** Sends `entries` to `member`; what is replaced meanwhile for it waits for the next send. */
  private async send (member: string, entries: CatalogEntry[]): Promise<void> {
    try {
      await this.o.query.merge(member, entries, this.o.stopping)
      this.stats.sent += entries.length
      const r = this.retries.get(member)
      if (r !== undefined && r.timer === undefined && r.entries.length === 0) this.retries.delete(member)
    } catch {
      this.stats.failed += entries.length
      this.failed(member, entries)
    }
  }
}
