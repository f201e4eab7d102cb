import type { CatalogEntry } from './catalog-entry.js'
import type { CatalogTable } from './catalog-table.js'

/**
 * Where a member keeps its catalog between runs (a journal file on a Node
 * node; nothing in a test that does not need it). Entries only merge, so
 * the store may hold several versions of one key and replay them in any order.
 */
export interface CatalogStore {
  /**
   * Where the catalog keeps its entries, when this store is that table (a
   * Node node's SQLite): the catalog is then on disk already, a restart
   * replays nothing, and this member's own claims are checked against its
   * store in the background rather than rebuilt before it is ready.
   */
  readonly table?: CatalogTable
  /** The table was made on this start (new, lost or damaged): nothing on disk to serve from, so the start waits for the store's adoption. */
  readonly fresh?: boolean
  /**
   * The store session (ObjectStore.session) in which the last run found its
   * claims and the store in agreement, said when it closed the table
   * (`close({ checked })`); a crash, or a stop before the check ended,
   * leaves it undefined.
   */
  readonly checkedInSession?: string
  /** Every entry kept, to apply at start. */
  load (): Promise<CatalogEntry[]>
  /** Keeps an entry the catalog changed to; written soon, not necessarily durable yet. */
  record (entry: CatalogEntry): void
  /** Writes what is recorded; with `durable`, on stable storage when it resolves (before a delete is acknowledged). */
  flush (durable: boolean): Promise<void>
  /** Whether rewriting from the catalog's `catalogEntries` entries would shrink the store a good deal. */
  wantsCompaction (catalogEntries: number): boolean
  /** Replaces what is kept with `entries`. */
  compact (entries: Iterable<CatalogEntry>): Promise<void>
  /** @param options.checked the store session in which this member's claims and its store were found to agree (see checkedInSession) */
  close (options?: { checked?: string }): Promise<void>
}
