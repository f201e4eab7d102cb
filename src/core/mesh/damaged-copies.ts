import type { LocalCopies } from './local-copies.js'

/** A copy reported damaged that hashed to its version is not read again for a report for this long, ms. */
const INTACT_RECHECK_MS = 10 * 60_000
/** How many such copies are remembered (the oldest forgotten first). */
const INTACT_REMEMBERED = 10_000
/** Reports of damaged copies waiting to be read again (one is read at a time); more are let go. */
const RECHECKS_QUEUED = 64

export interface DamagedCopiesOptions {
  copies: LocalCopies
  stats: { corruptCopies: number, intactReports: number }
  stopping: AbortSignal
  /** Called after each report has been looked into (a dropped copy is fetched again by the next pass). */
  looked: () => void
}

/** A damaged local copy: the key, and the local id of its slot. */
export function damageId (bucket: string, key: string, versionId: string | undefined): string {
  return `${bucket}\n${key}\n${versionId ?? ''}`
}

/**
 * This member's local copies found damaged (Upkeep fetches them again), and
 * the reports that a copy is: each read whole again before its copy is
 * dropped, so that no member can make the holders drop good copies.
 */
export class DamagedCopies {
  /** When each damaged copy was found, by damageId. */
  private readonly found = new Map<string, number>()
  /** Copies reported damaged that hashed to their version, by when they were read (see report), by slot and content. */
  private readonly intactAt = new Map<string, number>()
  private rechecks: Promise<void> = Promise.resolve()
  private rechecksQueued = 0

  constructor (private readonly o: DamagedCopiesOptions) {}

  has (id: string): boolean {
    return this.found.has(id)
  }

  /** A copy found damaged or lost, from now on unless it already was. */
  add (id: string): void {
    if (!this.found.has(id)) this.found.set(id, Date.now())
  }

  /** A copy fetched again: whole. */
  delete (id: string): void {
    this.found.delete(id)
  }

  /** Whether a copy was found damaged since `ms`. */
  since (ms: number): boolean {
    for (const at of this.found.values()) if (at >= ms) return true
    return false
  }

  /** Forgets the copies found before `ms` that are not in `seen` (their versions are gone: nothing to fetch). */
  forgetUnseen (ms: number, seen: Set<string>): void {
    for (const [id, at] of this.found) if (at < ms && !seen.has(id)) this.found.delete(id)
  }

  /**
   * A local copy was reported not to hash to its version (`versionId`: the
   * local id of its slot, LocalCopies.localId), by a read here or by a
   * member that fetched it: read whole again, and if it does not hash to its
   * version, dropped (and fetched again from another holder: Upkeep's repair
   * loop retries until one answers). A member cannot make the holders drop
   * good copies: one that hashes to its version stays. Nor keep them reading:
   * copies are read again one at a time, at most RECHECKS_QUEUED waiting
   * (others are let go: a copy that did rot is found again by a later read),
   * and a copy found whole is not read again for its content for a while
   * (INTACT_RECHECK_MS). The read is outside the key's lock (a write of the
   * key does not wait for it); the copy is dropped under it, if the key
   * still has that content.
   */
  report (bucket: string, key: string, sha256: string, versionId?: string): void {
    if (this.rechecksQueued >= RECHECKS_QUEUED) return
    this.rechecksQueued++
    this.rechecks = this.rechecks.then(async () => {
      this.rechecksQueued--
      await this.recheck(bucket, key, sha256, versionId)
    }).then(() => { this.o.looked() }, () => {})
  }

  private async recheck (bucket: string, key: string, sha256: string, versionId?: string): Promise<void> {
    const { copies, stopping } = this.o
    const handle = await copies.openLocal(bucket, key, sha256, stopping, versionId)
    if (handle === undefined) return
    // The copy that was opened goes, by its own id (a reader of an older release names none: the key's newest here).
    const local = handle.info.versionId ?? versionId
    const id = damageId(bucket, key, local)
    const content = `${id}\n${sha256}`
    const checked = this.intactAt.get(content)
    if (this.found.has(id) || (checked !== undefined && Date.now() - checked < INTACT_RECHECK_MS)) { await handle.close(); return }
    const found = await copies.intact(handle, sha256, stopping)
    if (found === 'unreadable') {
      // A copy that could not be read (EMFILE passes; EIO may not) is not dropped: it could be the last copy of its
      // version. It is fetched again from another holder, over it (the store writes the new copy beside it and renames
      // it into place), and stays where none can send one.
      this.found.set(id, Date.now())
      return
    }
    if (found === 'intact') {
      this.intactAt.set(content, Date.now())
      this.o.stats.intactReports++
      if (this.intactAt.size > INTACT_REMEMBERED) this.intactAt.delete(this.intactAt.keys().next().value!)
      return
    }
    await copies.locks.run(`${bucket}\n${key}`, async () => {
      // Still this content (not a version written meanwhile): dropped.
      const still = await copies.openLocal(bucket, key, sha256, stopping, local)
      if (still === undefined) return
      await still.close()
      this.found.set(id, Date.now())
      this.o.stats.corruptCopies++
      await copies.deleteLocal(bucket, key, stopping, local)
    })
  }
}
