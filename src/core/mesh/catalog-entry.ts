import type { LifecycleRule } from '../lifecycle.js'
import type { CorsRule, ObjectMetadata } from '../object-store.js'
import { compareVersions, type Version } from './hlc.js'

/** What the cluster knows of one version of an object: enough to list, HEAD and verify it. */
export interface ObjectRecord {
  size: number
  /** As S3 reports it, without quotes. */
  etag: string
  /** Hex SHA-256 of the content: every transferred byte is checked against it. */
  sha256: string
  lastModified: number
  metadata: ObjectMetadata
  tags: Record<string, string>
  parts?: number
  /** Hex root of the object's chunk tree (chunk-tree.ts), for objects of more than 1 MiB written by a member that makes one: what a range read from a holder is checked against. */
  tree?: string
}

/**
 * One catalog entry: the newest version known of a bucket (key `undefined`)
 * or of an object, or a tombstone when that newest version is a delete.
 * `holders` are the members that hold this version's bytes, sorted.
 */
export interface CatalogEntry {
  bucket: string
  /** Absent for the entry of the bucket itself. */
  key?: string
  version: Version
  /** A tombstone: the newest version is a delete. */
  deleted: boolean
  /** Absent on tombstones and bucket entries. */
  object?: ObjectRecord
  /** A bucket's CORS rules (bucket entries only): a new bucket version carries them, so every node answers preflights alike. */
  cors?: CorsRule[]
  /** A bucket's lifecycle rules (bucket entries only), carried the same way: the member that decides for the bucket's objects acts on them. */
  lifecycle?: LifecycleRule[]
  holders: string[]
}

/**
 * Merges two entries for the same bucket and key. Commutative, associative
 * and idempotent, so announcements may arrive in any order, twice, or late:
 * the newer version wins whole; for the same version the holder lists unite.
 * (Two different contents under one version would mean a broken or hostile
 * writer; the one with the larger sha256 wins, so every node still agrees.)
 */
export function mergeEntries (a: CatalogEntry, b: CatalogEntry): CatalogEntry {
  const order = compareVersions(a.version, b.version) || compareContent(a, b)
  if (order > 0) return a
  if (order < 0) return b
  const holders = unite(a.holders, b.holders)
  return holders === a.holders ? a : holders === b.holders ? b : { ...a, holders }
}

/** Orders entries of one version by content, so that merge stays commutative whatever arrives. */
function compareContent (a: CatalogEntry, b: CatalogEntry): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1
  const x = a.object?.sha256 ?? ''
  const y = b.object?.sha256 ?? ''
  return x < y ? -1 : x > y ? 1 : 0
}

/** The sorted union of two sorted lists; returns an input unchanged when it already holds everything. */
export function unite (a: string[], b: string[]): string[] {
  const out: string[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    if (y === undefined || (x !== undefined && x < y)) { out.push(x!); i++ } else if (x === undefined || y < x) { out.push(y); j++ } else { out.push(x); i++; j++ }
  }
  return out.length === a.length ? a : out.length === b.length ? b : out
}

/** Whether two entries say the same thing (same version, tombstone flag, content and holders). */
export function sameEntry (a: CatalogEntry, b: CatalogEntry): boolean {
  return compareVersions(a.version, b.version) === 0 && a.deleted === b.deleted &&
    a.object?.sha256 === b.object?.sha256 && a.holders.length === b.holders.length && a.holders.every((h, i) => h === b.holders[i])
}
