import type { Catalog } from './catalog.js'
import type { CatalogEntry } from './catalog-entry.js'
import { compareVersions } from './hlc.js'
import type { LocalCopies } from './local-copies.js'

/** Keys checked at once at most: a burst of reads of copies that are gone checks each key once, and a flood of them costs no more than this. */
const CHECKS_AT_ONCE = 64

export interface LostClaimsOptions {
  catalog: Catalog
  copies: LocalCopies
  stopping: AbortSignal
  /** The copy is to be had again from another holder (Upkeep.lost), whatever placement says. */
  lost: (e: CatalogEntry) => void
  /** Whether the copy of this slot is being had again already (Upkeep.refetching): until it is, anti-entropy brings the claim back, and a read finds it missing again. */
  refetching: (e: CatalogEntry) => boolean
  /** Whether a member can be fetched from now (DurableMembers.reachable): a claim goes only where one that can send the copy is listed. */
  reachable: (member: string) => boolean
  stats: { lostClaims: number }
}

/**
 * Claims this member's catalog makes that its store no longer backs: the
 * catalog lists it as a holder of a version, and a read of that version here
 * (another member's fetch or range, or this member's own GET where placement
 * gives it no copy: one that does fetches the copy as it serves it) finds no
 * copy of it, or a copy with other bytes. A data folder put back from a backup, a file
 * removed while the node was stopped, a disk that lost writes: a claim left
 * standing is counted by every member as a copy (repair makes no other), and
 * placement lets it stand in for a member that lacks the version.
 *
 * Checked again under the key's lock (a write of the key in between may have
 * replaced the version); if the store still has no copy, the claim goes from
 * this member's catalog and the copy is fetched again from another holder, so
 * that the claim is true again (as a file deleted by hand is, startup.ts's
 * removedByHand). Where no other member that can be reached holds it, the
 * claim stays: the version is not to be had now, and no delete is made for
 * it. A copy that cannot be read now (an error) is not taken for a lost one.
 */
export class LostClaims {
  private readonly checking = new Set<string>()

  constructor (private readonly o: LostClaimsOptions) {}

  /** A read here found no copy of (bucket, key) with content `sha256` (its version `versionId`, as the store keeps it: LocalCopies.localId). */
  missing (bucket: string, key: string, sha256: string, versionId?: string): void {
    const id = `${bucket}\n${key}\n${versionId ?? ''}\n${sha256}`
    if (this.o.stopping.aborted || this.checking.has(id) || this.checking.size >= CHECKS_AT_ONCE) return
    // Nothing to check unless the catalog says this member holds that content: a reader asking for what was never here costs a lookup.
    const e = this.claimed(bucket, key, sha256, versionId)
    if (e === undefined || this.o.refetching(e)) return
    this.checking.add(id)
    void this.check(bucket, key, sha256, versionId).catch(() => {}).finally(() => { this.checking.delete(id) })
  }

  private claimed (bucket: string, key: string, sha256: string, versionId?: string): CatalogEntry | undefined {
    const { catalog, copies } = this.o
    return catalog.slots(bucket, key).find(e => !e.deleted && e.object?.sha256 === sha256 && e.holders.includes(copies.self) && copies.localId(e) === versionId)
  }

  private async check (bucket: string, key: string, sha256: string, versionId?: string): Promise<void> {
    const { catalog, copies, stopping } = this.o
    // A store still rebuilding its index from its folders answers "no such version" for copies it has (startup.ts's dropLostClaims waits too).
    await copies.store.firstScan
    await copies.locks.run(`${bucket}\n${key}`, async () => {
      const e = this.claimed(bucket, key, sha256, versionId)
      if (e === undefined) return
      // Throws on a store that cannot answer now (the claim stays); undefined only where it has no such copy.
      const handle = await copies.openLocal(bucket, key, sha256, stopping, versionId)
      if (handle !== undefined) { await handle.close(); return }
      // The slot as it is now (gossip merges without the key's lock): the claim goes only from the entry looked at.
      const now = this.claimed(bucket, key, sha256, versionId)
      if (now === undefined || compareVersions(now.version, e.version) !== 0 || this.o.refetching(now) || !now.holders.some(h => h !== copies.self && this.o.reachable(h))) return
      catalog.dropHolder(bucket, key, copies.self, e.versionId)
      this.o.stats.lostClaims++
      this.o.lost(e)
    })
  }
}
