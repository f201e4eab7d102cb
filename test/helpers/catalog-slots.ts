/** Catalog entries of versioned keys (slots, markers, tombstones) for property tests, and what a catalog says about them. */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { headOf, isLiveObject, type CatalogEntry } from '../../src/core/mesh/catalog-entry.js'
import type { Catalog } from '../../src/core/mesh/catalog.js'
import { compareVersions } from '../../src/core/mesh/hlc.js'
import { versionIdOf } from '../../src/core/versioning.js'

const nodes = ['n1', 'n2', 'n3']

/** The id a write made at `ms` by `node` gets (as s3mesh makes them: they sort as they were made). */
export function idAt (ms: number, node = 'n1'): string {
  return versionIdOf(ms, 0, node)
}

/**
 * Entries of a few slots of keys `a`, `a/b` and `c` of bucket `b1`: the
 * `null` slot or one of three version ids, each an object, a delete marker or
 * a tombstone, with versions and `created` times from a small range so that
 * slots meet and tie. One content per sha256 (as honest writers make them).
 */
export const arbSlot: fc.Arbitrary<CatalogEntry> = fc.record({
  key: fc.constantFrom('a', 'a/b', 'c'),
  id: fc.option(fc.constantFrom(1, 2, 3), { nil: undefined }),
  version: fc.record({ ms: fc.integer({ min: 0, max: 5 }), counter: fc.integer({ min: 0, max: 1 }), node: fc.constantFrom(...nodes) }),
  created: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
  kind: fc.constantFrom('object', 'object', 'marker', 'tombstone'),
  sha: fc.constantFrom('aa', 'bb'),
  holders: fc.uniqueArray(fc.constantFrom(...nodes)).map(h => h.sort()),
}).map(({ key, id, version, created, kind, sha, holders }): CatalogEntry => ({
  bucket: 'b1',
  key,
  ...(id === undefined ? {} : { versionId: idAt(id) }),
  version: { ...version },
  // As entries reach a merge: a `created` before its version, or none (the codec and apply drop one equal to it and refuse one after it).
  ...(created === undefined || compareVersions({ ms: created, counter: 0, node: 'n1' }, version) >= 0 ? {} : { created: { ms: created, counter: 0, node: 'n1' } }),
  deleted: kind === 'tombstone',
  ...(kind === 'marker' ? { marker: true as const } : {}),
  ...(kind === 'object' ? { object: { size: sha === 'aa' ? 1 : 10, etag: sha, sha256: sha, lastModified: 0, metadata: { user: {} }, tags: {} } } : {}),
  holders: kind === 'object' ? holders : [],
}))

/** Everything a catalog answers about bucket `b1`'s keys and versions, as plain data. */
export function slotView (c: Catalog): unknown {
  const keys = ['a', 'a/b', 'c']
  return {
    heads: keys.map(k => c.get('b1', k) ?? null),
    slots: keys.map(k => c.slots('b1', k)),
    versions: c.versionPage('b1', { limit: 100 }),
    pages: [c.versionPage('b1', { limit: 2 }), c.versionPage('b1', { prefix: 'a/', limit: 10 }), c.versionPage('b1', { keyMarker: 'a', limit: 10 }), c.versionPage('b1', { keyMarker: 'a', versionIdMarker: 'null', limit: 10 })],
    listing: c.page('b1', { limit: 10 }),
    objects: c.bucketTotals('b1'),
    kept: c.versionTotals('b1'),
    digests: c.rangeDigests('b1'),
  }
}

/** Checks a catalog's heads and counts against what its slots say, worked out from scratch. */
export function checkAgainstSlots (c: Catalog): void {
  const counts = countsFrom(c)
  assert.deepEqual(c.bucketTotals('b1'), counts.objects, 'live objects and bytes follow the heads')
  assert.deepEqual(c.versionTotals('b1'), counts.kept, 'versions and markers kept, and their bytes')
  for (const k of ['a', 'a/b', 'c']) assert.deepEqual(c.get('b1', k), headOf(c.slots('b1', k)), `the head of ${k} is the one its slots say`)
  assert.deepEqual(c.page('b1', { limit: 10 }).entries.map(e => e.key), ['a', 'a/b', 'c'].filter(k => isLiveObject(headOf(c.slots('b1', k)))), 'listed: the keys whose head is an object')
}

/** What the counts should be, worked out from the slots alone. */
export function countsFrom (c: Catalog): { objects: { objects: number, bytes: number }, kept: { versions: number, bytes: number } } {
  const all = [...c.entries('b1')].filter(e => e.key !== undefined)
  const byKey = new Map<string, CatalogEntry[]>()
  for (const e of all) byKey.set(e.key!, [...byKey.get(e.key!) ?? [], e])
  const heads = [...byKey.values()].map(s => headOf(s)).filter(isLiveObject)
  const kept = all.filter(e => !e.deleted)
  return {
    objects: { objects: heads.length, bytes: heads.reduce((n, e) => n + e!.object!.size, 0) },
    kept: { versions: kept.length, bytes: kept.reduce((n, e) => n + (e.object?.size ?? 0), 0) },
  }
}
