import { isS3Error } from './errors.js'
import { expiredMarkerGoes, expiryOf, noncurrentExpires, uploadExpiryOf, type LifecycleRule } from './lifecycle.js'
import type { ObjectStore } from './object-store.js'
import { throwIfAborted } from './streams.js'
import { NULL_VERSION, tookCurrent, type VersionSummary } from './versioning.js'

export interface LifecycleRunnerOptions {
  /** The store the rules act on: a mesh member's MeshStore (its deletes reach every node), or a lone node's. */
  store: ObjectStore
  /**
   * Whether this member acts on a bucket's objects. In a mesh one member
   * does (the bucket's leading catalog owner, which keeps all its entries),
   * so each object is expired once, not once per node.
   */
  decides: (bucket: string) => boolean
  /** Time between passes, ms. */
  intervalMs: number
  /** Before the first pass, ms (a member that has just started does not yet know who leads which bucket). */
  firstPassAfterMs: number
  /** The time rules are checked against (a test moves it on by days). */
  now?: () => number
  /** A bucket a pass could not finish (the others go on; it is tried again at the next pass). */
  onError?: (err: unknown, bucket?: string) => void
  /**
   * A key whose object an expiration deleted for good (not hidden behind a
   * delete marker), or a version of which went while a marker hid the
   * current one: what is kept of the key beside the store (its object ACL)
   * goes with it.
   */
  forget?: (bucket: string, key: string) => Promise<void>
}

/** What the runner did, for /metrics. */
export interface LifecycleStats {
  passes: number
  /** Objects looked at by passes over buckets this member decides for. */
  checked: number
  expired: number
  aborted: number
  /** Noncurrent versions and delete markers deleted by NoncurrentVersionExpiration and ExpiredObjectDeleteMarker. */
  versionsExpired: number
  /** How long the last finished pass took, s. */
  lastPassSeconds: number
}

/** A listing page: what S3 lifecycle walks a bucket by. */
const PAGE = 1000
/** Objects of a page looked up and deleted at a time (a delete waits for the catalog's group commit: several share one). */
const CONCURRENCY = 8

/**
 * Acts on buckets' lifecycle rules (lifecycle.ts): every `intervalMs`, walks
 * the buckets with rules, deletes the current objects they expire in the
 * buckets this member decides for, and aborts its own multipart uploads
 * (an upload lives on the member that began it, so that is once too).
 * An object is looked up again just before its delete: one written since
 * the listing is not the one that expired.
 */
export class LifecycleRunner {
  readonly stats: LifecycleStats = { passes: 0, checked: 0, expired: 0, aborted: 0, versionsExpired: 0, lastPassSeconds: 0 }
  private readonly stopping = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  private running: Promise<void> | undefined

  constructor (private readonly o: LifecycleRunnerOptions) {}

  start (): void {
    const next = (delay: number): void => {
      this.timer = setTimeout(() => {
        this.running = this.pass(this.stopping.signal).then(() => {}, err => { if (!this.stopping.signal.aborted) this.o.onError?.(err) })
        void this.running.then(() => { if (!this.stopping.signal.aborted) next(this.o.intervalMs) })
      }, delay)
      // A timer alone does not keep the process up.
      ;(this.timer as { unref?: () => void }).unref?.()
    }
    next(this.o.firstPassAfterMs)
  }

  async stop (): Promise<void> {
    this.stopping.abort(new Error('stopping'))
    clearTimeout(this.timer)
    await this.running
  }

  /** One pass over every bucket with rules. */
  async pass (signal: AbortSignal = this.stopping.signal): Promise<{ expired: number, aborted: number, versions: number }> {
    const done = { expired: 0, aborted: 0, versions: 0 }
    const started = performance.now()
    const now = this.o.now?.() ?? Date.now()
    for (const b of await this.o.store.listBuckets({ signal })) {
      throwIfAborted(signal)
      try {
        const bucket = await this.o.store.headBucket(b.name, { signal }).catch(() => undefined)
        const rules = bucket?.lifecycle?.filter(r => r.enabled)
        if (rules === undefined || rules.length === 0) continue
        done.aborted += await this.abortUploads(b.name, rules, now, signal)
        if (!this.o.decides(b.name)) continue
        // Versions first: a marker the current object's expiry leaves now is noncurrent from now, not before.
        if (bucket?.versioning !== undefined) done.versions += await this.expireVersions(b.name, rules, now, signal)
        done.expired += await this.expireObjects(b.name, rules, now, signal)
      } catch (err) {
        // One bucket that cannot be walked now (its owners unreachable, a store error) does not stop the others.
        throwIfAborted(signal)
        this.o.onError?.(err, b.name)
      }
    }
    this.stats.passes++
    this.stats.lastPassSeconds = (performance.now() - started) / 1000
    return done
  }

  private async abortUploads (bucket: string, rules: LifecycleRule[], now: number, signal: AbortSignal): Promise<number> {
    if (!rules.some(r => r.abortIncompleteMultipartUpload !== undefined)) return 0
    let aborted = 0
    for (const u of await this.o.store.listMultipartUploads(bucket, { signal })) {
      const at = uploadExpiryOf(rules, u.key, u.initiated)
      if (at === undefined || at.getTime() > now) continue
      try {
        await this.o.store.abortMultipartUpload(bucket, u.key, u.uploadId, { signal })
        aborted++
        this.stats.aborted++
      } catch (err) {
        if (!isS3Error(err, 'NoSuchUpload')) throw err
      }
    }
    return aborted
  }

  /**
   * In a bucket with versioning set: walks every key's versions (newest
   * first) and deletes, by id, the noncurrent ones a NoncurrentVersionExpiration
   * rule expires (counted from when their successor was made, keeping
   * NewerNoncurrentVersions), then a delete marker left as its key's only
   * version when ExpiredObjectDeleteMarker says so. The store deletes each
   * only while it is still noncurrent (or still alone), under its lock.
   */
  private async expireVersions (bucket: string, rules: LifecycleRule[], now: number, signal: AbortSignal): Promise<number> {
    const list = this.o.store.listObjectVersions?.bind(this.o.store)
    if (list === undefined || !rules.some(r => r.noncurrentVersionExpiration !== undefined || r.expiration !== undefined)) return 0
    const tagged = rules.some(r => r.filter.tags !== undefined)
    let expired = 0
    let run: VersionSummary[] = []
    const endRun = async (): Promise<void> => {
      const versions = run
      run = []
      if (versions.length === 0) return
      const key = versions[0]!.key
      const left: VersionSummary[] = [versions[0]!]
      for (let i = 1; i < versions.length; i++) {
        throwIfAborted(signal)
        const v = versions[i]!
        const tags = tagged && !v.deleteMarker ? (await this.o.store.headObject(bucket, key, { signal, versionId: v.versionId }).catch(() => undefined))?.tags : undefined
        // Noncurrent since its successor was made (not that one's date: a file placed by hand keeps an old one).
        const successor = versions[i - 1]!
        if (!noncurrentExpires(rules, { key, size: v.size ?? 0, lastModified: v.lastModified, marker: v.deleteMarker, ...(tags === undefined ? {} : { tags }) }, successor.made ?? successor.lastModified, i - 1, now)) {
          left.push(v)
          continue
        }
        // Only while still noncurrent, checked by the store under the key's lock: a delete by id of the version
        // before it since the listing may have made it current.
        if ((await this.o.store.deleteObject(bucket, key, { signal, versionId: v.versionId, onlyIf: 'noncurrent' }))?.kept === true) {
          left.push(v)
          continue
        }
        expired++
        // Behind a delete marker, which version a key's ACL is of cannot be told: it goes (private, not public by mistake).
        if (!v.deleteMarker && versions[0]!.deleteMarker) await this.o.forget?.(bucket, key)
      }
      const only = left[0]!
      // Only while still the key's only version (nothing written since the listing), checked the same way.
      if (left.length === 1 && only.deleteMarker && expiredMarkerGoes(rules, only, now) &&
        (await this.o.store.deleteObject(bucket, key, { signal, versionId: only.versionId, onlyIf: 'alone' }))?.kept !== true) expired++
    }
    let markers: { keyMarker?: string, versionIdMarker?: string } = {}
    for (;;) {
      const page = await list(bucket, { ...markers, limit: PAGE, signal })
      this.stats.checked += page.versions.length
      for (const v of page.versions) {
        if (run.length > 0 && run[0]!.key !== v.key) await endRun()
        run.push(v)
      }
      const last = page.versions.at(-1)
      if (!page.isTruncated || last === undefined) break
      markers = { keyMarker: last.key, versionIdMarker: last.versionId }
    }
    await endRun()
    this.stats.versionsExpired += expired
    return expired
  }

  private async expireObjects (bucket: string, rules: LifecycleRule[], now: number, signal: AbortSignal): Promise<number> {
    if (!rules.some(r => r.expiration?.days !== undefined || r.expiration?.date !== undefined)) return 0
    // A rule with a tag filter may apply: an object that would expire but for its tags is looked up for them.
    const untagged = rules.map(r => r.filter.tags === undefined ? r : { ...r, filter: { ...r.filter, tags: undefined } })
    let expired = 0
    let after: string | undefined
    for (;;) {
      const page = await this.o.store.listObjects(bucket, { limit: PAGE, signal, ...(after === undefined ? {} : { startAfter: after }) })
      this.stats.checked += page.objects.length
      const due = page.objects.filter(o => (expiryOf(untagged, o)?.date.getTime() ?? Infinity) <= now)
      let next = 0
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, async () => {
        while (next < due.length) {
          throwIfAborted(signal)
          const summary = due[next++]!
          const info = await this.o.store.headObject(bucket, summary.key, { signal }).catch(() => undefined)
          // Gone, or written again since the listing: not the version that expired.
          if (info === undefined || info.etag !== summary.etag || info.lastModified.getTime() !== summary.lastModified.getTime()) continue
          const expiry = expiryOf(rules, info)
          if (expiry === undefined || expiry.date.getTime() > now) continue
          const result = await this.o.store.deleteObject(bucket, summary.key, { signal }) ?? undefined
          if (tookCurrent(result, info.versionId ?? NULL_VERSION)) await this.o.forget?.(bucket, summary.key)
          expired++
          this.stats.expired++
        }
      }))
      if (!page.isTruncated) return expired
      after = page.resumeAfter ?? page.objects.at(-1)?.key
      if (after === undefined) return expired
    }
  }
}
