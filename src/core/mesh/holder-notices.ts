import type { CatalogEntry } from './catalog-entry.js'
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
}

export interface HolderNoticeStats {
  /** Entries sent to members holding an older version of a key whose bucket they do not own. */
  sent: number
  /** Sends no member answered (the member's next whole hand-over brings the change back to it). */
  failed: number
}

/**
 * Announcements of a bucket's objects reach its owners and followers only,
 * so a member holding a copy of a key in a bucket it does not own would not
 * hear that the key was overwritten or deleted elsewhere: it would keep the
 * old bytes and serve them as current. The bucket's leading owner (the first
 * alive) tells it: when a version replaces one with such holders, the new
 * entry is handed to each of them (a catalog merge, batched per member), and
 * their reconciler drops the stale copy.
 */
export class HolderNotices {
  readonly stats: HolderNoticeStats = { sent: 0, failed: 0 }
  private readonly pending = new Map<string, CatalogEntry[]>()
  private sending: Promise<void> | undefined

  private readonly onReplaced = ({ detail: { before, after } }: CustomEvent<{ before: CatalogEntry, after: CatalogEntry }>): void => {
    const { partition, durable, self } = this.o
    if (!partition.partitioned || !partition.leads(after.bucket)) return
    const owners = partition.owners(after.bucket)
    for (const h of before.holders) {
      if (h === self || after.holders.includes(h) || owners.includes(h) || !durable.has(h)) continue
      const list = this.pending.get(h)
      if (list === undefined) this.pending.set(h, [after])
      else list.push(after)
    }
    if (this.pending.size > 0 && this.sending === undefined) this.sending = this.send().finally(() => { this.sending = undefined })
  }

  constructor (private readonly o: HolderNoticesOptions) {}

  start (): void {
    this.o.catalog.addEventListener('replaced', this.onReplaced)
  }

  async stop (): Promise<void> {
    this.o.catalog.removeEventListener('replaced', this.onReplaced)
    await this.sending
  }

  /** Sends what is pending, member by member, until nothing is (what is replaced meanwhile goes in the next round). */
  private async send (): Promise<void> {
    // After the current task: a batch of announced entries is applied whole first.
    await Promise.resolve()
    while (this.pending.size > 0 && !this.o.stopping.aborted) {
      const round = [...this.pending]
      this.pending.clear()
      await Promise.all(round.map(async ([member, entries]) => {
        try {
          await this.o.query.merge(member, entries, this.o.stopping)
          this.stats.sent += entries.length
        } catch {
          this.stats.failed += entries.length
        }
      }))
    }
  }
}
