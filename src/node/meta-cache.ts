import type { MetaRecord } from './disk-records.js'

/**
 * Recently used object metadata, so a hot GET or HEAD does not read its JSON
 * file again. Every change goes through the store, which updates or drops the
 * entry under the key's lock; a file edited by hand is still caught by the
 * inode/mtime check when the data file is opened.
 */
export class MetaCache {
  private readonly entries = new Map<string, MetaRecord>()

  constructor (private readonly capacity = 10_000) {}

  get (id: string): MetaRecord | undefined {
    const m = this.entries.get(id)
    if (m !== undefined) {
      // Map keeps insertion order: re-inserting makes it the most recent.
      this.entries.delete(id)
      this.entries.set(id, m)
    }
    return m
  }

  set (id: string, meta: MetaRecord): void {
    this.entries.delete(id)
    this.entries.set(id, meta)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!)
  }

  delete (id: string): void {
    this.entries.delete(id)
  }

  /** Drops every entry of a bucket (when it is deleted). */
  deleteBucket (bucket: string): void {
    for (const id of this.entries.keys()) if (id.startsWith(bucket + '/')) this.entries.delete(id)
  }
}
