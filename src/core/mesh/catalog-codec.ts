import { encode } from 'cborg'
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, type ObjectChecksum, type PartSizes } from '../checksums.js'
import type { LifecycleFilter, LifecycleRule } from '../lifecycle.js'
import { MAX_PART_NUMBER } from '../multipart.js'
import { decodeStrictMap, DroppedMessageError } from '../wire/strict-cbor.js'
import { compareKeys } from '../key-order.js'
import { bucketNameProblem } from '../names.js'
import type { CorsRule, ObjectMetadata, ObjectSummary } from '../object-store.js'
import { MAX_ENDED, type CatalogEntry, type ObjectRecord } from './catalog-entry.js'
import { isVersionIdName, NULL_VERSION } from '../versioning.js'
import type { WriteHead } from './local-copies.js'
import { compareVersions, type Version } from './hlc.js'
import { checkDefaultRetention, LOCK_MODES, type BucketObjectLock, type DefaultRetention, type LockMode, type LockRecord } from '../object-lock.js'

/** Bumped when the catalog wire format changes; other versions are dropped (and counted). */
export const CATALOG_WIRE_VERSION = 1

export interface CatalogLimits {
  /** Largest encoded message, bytes. */
  maxMessageBytes: number
  /** Most entries in one message. */
  maxEntries: number
}

export const CATALOG_LIMITS: Readonly<CatalogLimits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxEntries: 10_000,
})

/** Catalog entries on the wire: announcements (gossip) and anti-entropy replies. */
export interface CatalogMessage {
  /** Marks the message kind, so a sealed message of another protocol never parses as this one. */
  kind: 'catalog'
  entries: CatalogEntry[]
  /**
   * An announcement's recipients, each by its peer mark (announcer.ts's
   * `peerMark`): its publisher, and the subscribers the publisher's
   * gossipsub knew, each sent it (flood publishing; see Announcer.send for
   * one that was not). Absent
   * in anti-entropy replies, from a member of an earlier release, when there
   * were more than MAX_SENT_TO, and in an announcement sent again unlisted.
   */
  sentTo?: string[]
}

/** Most recipients an announcement lists, its publisher included (a bucket's owners and followers are a few); to more, it lists none. */
export const MAX_SENT_TO = 16

/**
 * Entries of `null` slots and buckets go in `entries`, as they always have
 * (a tag edit's `created` with them: a member of an earlier release drops the
 * field, and merges the edit as it always did); other slots (a version id, a
 * delete marker) in
 * `versions`, which a member of an earlier release ignores whole (its
 * decoder drops fields it does not know). Had they gone in `entries`, it
 * would strip their version ids and merge them over the `null` slot.
 */
export function encodeCatalogMessage (entries: CatalogEntry[], sentTo?: string[]): Uint8Array {
  const plain: Array<Record<string, unknown>> = []
  const versions: Array<Record<string, unknown>> = []
  for (const e of entries) (e.key !== undefined && (e.versionId !== undefined || e.marker === true) ? versions : plain).push(strip(e))
  return encode({ v: CATALOG_WIRE_VERSION, kind: 'catalog', entries: plain, ...(versions.length === 0 ? {} : { versions }), ...(sentTo === undefined ? {} : { sentTo }) })
}

/** Leaves out absent optional fields: CBOR has no `undefined`. */
function strip (e: CatalogEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { bucket: e.bucket, version: e.version, deleted: e.deleted, holders: e.holders }
  if (e.key !== undefined) out.key = e.key
  if (e.versionId !== undefined) out.versionId = e.versionId
  if (e.created !== undefined) out.created = e.created
  if (e.marker === true) out.marker = true
  if (e.versioning !== undefined) out.versioning = e.versioning
  if (e.objectLock !== undefined) out.objectLock = JSON.parse(JSON.stringify(e.objectLock)) as unknown
  if (e.born !== undefined) out.born = e.born
  if (e.ended !== undefined) out.ended = e.ended
  if (e.incarnation !== undefined) out.incarnation = e.incarnation
  if (e.object !== undefined) {
    const { parts, tree, lock, ...rest } = e.object
    out.object = parts === undefined && tree === undefined && lock === undefined
      ? rest
      : { ...rest, ...(parts === undefined ? {} : { parts }), ...(tree === undefined ? {} : { tree }), ...(lock === undefined ? {} : { lock: JSON.parse(JSON.stringify(lock)) as unknown }) }
  }
  if (e.cors !== undefined) {
    out.cors = e.cors.map(r => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)))
  }
  // Through JSON: nested fields left undefined go (CBOR would keep them as `undefined`).
  if (e.lifecycle !== undefined) out.lifecycle = JSON.parse(JSON.stringify(e.lifecycle)) as unknown
  return out
}

function malformed (what: string): never {
  throw new DroppedMessageError('malformed', `Malformed catalog message: ${what}.`)
}

function obj (x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) malformed(`${what} is not a map`)
  return x as Record<string, unknown>
}

function str (x: unknown, what: string, max: number, min = 0): string {
  if (typeof x !== 'string' || x.length < min || x.length > max) malformed(`${what} is not a string of ${min}-${max} characters`)
  return x
}

function uint (x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) malformed(`${what} is not a non-negative integer`)
  return x
}

/**
 * A bucket's name as S3 would take it. A member makes a bucket (a folder in
 * its data folder) for a name it hears, so a name an S3 client could not
 * have made (`../..`, `a/b`) is refused with the message that carries it.
 */
function bucketName (x: unknown, what: string): string {
  const name = str(x, what, 63, 3)
  const problem = bucketNameProblem(name)
  if (problem !== undefined) malformed(`${what} is not a bucket name: ${problem}`)
  return name
}

function stringMap (x: unknown, what: string): Record<string, string> {
  const m = obj(x, what)
  const out: Record<string, string> = {}
  const keys = Object.keys(m)
  if (keys.length > 64) malformed(`${what} has too many entries`)
  for (const k of keys) out[k] = str(m[k], `${what}.${k}`, 2048)
  return out
}

const MAX_ID = 128
const OPTIONAL_HEADERS = ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires'] as const

function version (x: unknown): Version {
  const v = obj(x, 'version')
  return { ms: uint(v.ms, 'version.ms'), counter: uint(v.counter, 'version.counter'), node: str(v.node, 'version.node', MAX_ID, 1) }
}

function objectMetadata (x: unknown, what: string): ObjectMetadata {
  const m = obj(x, what)
  const metadata: ObjectMetadata = { user: stringMap(m.user, `${what}.user`) }
  for (const h of OPTIONAL_HEADERS) if (m[h] !== undefined) metadata[h] = str(m[h], `${what}.${h}`, 2048)
  if (m.checksum !== undefined) metadata.checksum = objectChecksum(m.checksum, `${what}.checksum`)
  if (m.partSizes !== undefined) metadata.partSizes = partSizes(m.partSizes, `${what}.partSizes`)
  return metadata
}

function objectChecksum (x: unknown, what: string): ObjectChecksum {
  const c = obj(x, what)
  const algorithm = str(c.algorithm, `${what}.algorithm`, 16) as ChecksumAlgorithm
  if (!CHECKSUM_ALGORITHMS.includes(algorithm)) malformed(`${what}.algorithm is not a checksum algorithm`)
  if (c.type !== 'FULL_OBJECT' && c.type !== 'COMPOSITE') malformed(`${what}.type`)
  const value = str(c.value, `${what}.value`, 64, 1)
  if (!/^[A-Za-z0-9+/]+={0,2}(-\d{1,5})?$/.test(value)) malformed(`${what}.value is not base64`)
  return { algorithm, type: c.type, value }
}

/** Runs of [size, count]: at most one per part. */
function partSizes (x: unknown, what: string): PartSizes {
  if (!Array.isArray(x) || x.length < 1 || x.length > MAX_PART_NUMBER) malformed(`${what} is not a list of 1-${MAX_PART_NUMBER} runs`)
  return x.map((r, i) => {
    if (!Array.isArray(r) || r.length !== 2) malformed(`${what}[${i}] is not a [size, count] pair`)
    return [uint(r[0], `${what}[${i}][0]`), uint(r[1], `${what}[${i}][1]`)] as [number, number]
  })
}

function objectRecord (x: unknown): ObjectRecord {
  const o = obj(x, 'object')
  const metadata = objectMetadata(o.metadata, 'object.metadata')
  const sha256 = str(o.sha256, 'object.sha256', 64, 64)
  if (!/^[0-9a-f]{64}$/.test(sha256)) malformed('object.sha256 is not hex')
  const tree = o.tree === undefined ? undefined : str(o.tree, 'object.tree', 64, 64)
  if (tree !== undefined && !/^[0-9a-f]{64}$/.test(tree)) malformed('object.tree is not hex')
  return {
    size: uint(o.size, 'object.size'),
    etag: str(o.etag, 'object.etag', 80, 1),
    sha256,
    lastModified: uint(o.lastModified, 'object.lastModified'),
    metadata,
    tags: stringMap(o.tags, 'object.tags'),
    ...(o.parts === undefined ? {} : { parts: uint(o.parts, 'object.parts') }),
    ...(tree === undefined ? {} : { tree }),
    ...(o.lock === undefined ? {} : { lock: lockRecordOf(o.lock) }),
  }
}

function lockMode (x: unknown, what: string): LockMode {
  if (!LOCK_MODES.includes(x as LockMode)) malformed(`${what} is not GOVERNANCE or COMPLIANCE`)
  return x as LockMode
}

/** A version's lock: a retention (mode and end, both or neither) and a legal hold. */
function lockRecordOf (x: unknown): LockRecord {
  const l = obj(x, 'object.lock')
  if ((l.mode === undefined) !== (l.until === undefined)) malformed('object.lock has a mode or an end without the other')
  if (l.legalHold !== undefined && typeof l.legalHold !== 'boolean') malformed('object.lock.legalHold')
  return {
    ...(l.mode === undefined ? {} : { mode: lockMode(l.mode, 'object.lock.mode'), until: uint(l.until, 'object.lock.until') }),
    ...(l.legalHold === undefined ? {} : { legalHold: l.legalHold as boolean }),
  }
}

/** A bucket's object lock: its default retention, if it has one (days or years, in S3's bounds). */
function bucketLock (x: unknown): BucketObjectLock {
  const l = obj(x, 'entry.objectLock')
  if (l.rule === undefined) return {}
  const r = obj(l.rule, 'entry.objectLock.rule')
  const rule: DefaultRetention = { mode: lockMode(r.mode, 'entry.objectLock.rule.mode'), ...optionalUint(r, 'days', 'entry.objectLock.rule'), ...optionalUint(r, 'years', 'entry.objectLock.rule') }
  try {
    checkDefaultRetention(rule)
  } catch {
    malformed('entry.objectLock.rule is not a default retention')
  }
  return { rule }
}

function strings (x: unknown, what: string): string[] {
  if (!Array.isArray(x) || x.length > 64) malformed(`${what} is not a list of at most 64`)
  return x.map((v, i) => str(v, `${what}[${i}]`, 256))
}

function corsRules (x: unknown): CorsRule[] {
  if (!Array.isArray(x) || x.length > 100) malformed('entry.cors is not a list of at most 100 rules')
  return x.map((r, i) => {
    const o = obj(r, `cors[${i}]`)
    return {
      ...(o.id === undefined ? {} : { id: str(o.id, `cors[${i}].id`, 255) }),
      allowedOrigins: strings(o.allowedOrigins, `cors[${i}].allowedOrigins`),
      allowedMethods: strings(o.allowedMethods, `cors[${i}].allowedMethods`),
      allowedHeaders: strings(o.allowedHeaders, `cors[${i}].allowedHeaders`),
      exposeHeaders: strings(o.exposeHeaders, `cors[${i}].exposeHeaders`),
      ...(o.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: uint(o.maxAgeSeconds, `cors[${i}].maxAgeSeconds`) }),
    }
  })
}

/**
 * A slot's version id as s3mesh makes them (letters, digits, `-` and `_`,
 * at most 128): a member stores its copy of a slot in a file named by it, so
 * a peer's id can name no other path. Never `null`, the name of the slot that has none.
 */
function versionId (x: unknown): string {
  const id = str(x, 'entry.versionId', 128, 1)
  if (!isVersionIdName(id) || id === NULL_VERSION) malformed('entry.versionId is not a version id')
  return id
}

/** An entry of the `versions` list: a slot of an object, with what only slots carry. */
function slotEntry (x: unknown): CatalogEntry {
  const e = entry(x, true)
  const m = x as Record<string, unknown>
  if (e.key === undefined) malformed('a version of a bucket')
  const id = m.versionId === undefined ? undefined : versionId(m.versionId)
  if (m.marker !== undefined && m.marker !== true) malformed('entry.marker')
  const marker = m.marker === true
  if (marker && (e.deleted || e.object !== undefined || e.holders.length > 0)) malformed('a delete marker with an object, holders or a tombstone')
  if (!marker && !e.deleted && e.object === undefined) malformed('a live object entry without its record')
  return { ...e, ...(id === undefined ? {} : { versionId: id }), ...(marker ? { marker: true } : {}) }
}

function entry (x: unknown, slot = false): CatalogEntry {
  const e = obj(x, 'entry')
  if (typeof e.deleted !== 'boolean') malformed('entry.deleted')
  if (!Array.isArray(e.holders) || e.holders.length > 256) malformed('entry.holders')
  const holders = e.holders.map(h => str(h, 'holder', MAX_ID, 1))
  // Holders are a sorted set: merge relies on it.
  for (let i = 1; i < holders.length; i++) if (holders[i - 1]! >= holders[i]!) malformed('entry.holders are not sorted and unique')
  const key = e.key === undefined ? undefined : str(e.key, 'entry.key', 1024, 1)
  const object = e.object === undefined ? undefined : objectRecord(e.object)
  if (key !== undefined && !e.deleted && object === undefined && !slot) malformed('a live object entry without its record')
  const cors = e.cors === undefined ? undefined : corsRules(e.cors)
  if (cors !== undefined && key !== undefined) malformed('CORS rules on an object entry')
  const lifecycle = e.lifecycle === undefined ? undefined : lifecycleRules(e.lifecycle)
  if (lifecycle !== undefined && key !== undefined) malformed('lifecycle rules on an object entry')
  if (e.versioning !== undefined && (key !== undefined || (e.versioning !== 'Enabled' && e.versioning !== 'Suspended'))) malformed('entry.versioning')
  const objectLock = e.objectLock === undefined ? undefined : bucketLock(e.objectLock)
  if (objectLock !== undefined && (key !== undefined || e.versioning !== 'Enabled')) malformed('entry.objectLock on an object entry or a bucket without versioning enabled')
  const v = version(e.version)
  const born = e.born === undefined ? undefined : version(e.born)
  // A bucket is made before any later change to its entry: a `born` ahead of it would name no bucket that was.
  if (born !== undefined && (key !== undefined || e.deleted || compareVersions(born, v) > 0)) malformed('entry.born on an object entry, a tombstone, or after entry.version')
  if (e.ended !== undefined && (key !== undefined || !Array.isArray(e.ended) || e.ended.length === 0 || e.ended.length > MAX_ENDED)) malformed(`entry.ended is not a list of 1-${MAX_ENDED} versions on a bucket's entry`)
  const ended = e.ended === undefined ? undefined : (e.ended as unknown[]).map(version)
  if (ended?.some(x => compareVersions(x, v) > 0) === true) malformed('entry.ended is after entry.version')
  if (e.incarnation !== undefined && key === undefined) malformed('entry.incarnation on a bucket\'s entry')
  const incarnation = e.incarnation === undefined ? undefined : version(e.incarnation)
  if (e.created !== undefined && key === undefined) malformed('entry.created on a bucket\'s entry')
  let created = e.created === undefined ? undefined : version(e.created)
  // A version is made before any later change to its slot: a `created` ahead would pin the head (and pass the clock's drift check).
  if (created !== undefined && compareVersions(created, v) > 0) malformed('entry.created is after entry.version')
  if (created !== undefined && compareVersions(created, v) === 0) created = undefined
  return {
    bucket: bucketName(e.bucket, 'entry.bucket'),
    ...(key === undefined ? {} : { key }),
    version: v,
    deleted: e.deleted,
    ...(object === undefined ? {} : { object }),
    ...(cors === undefined ? {} : { cors }),
    ...(lifecycle === undefined ? {} : { lifecycle }),
    ...(e.versioning === undefined ? {} : { versioning: e.versioning }),
    ...(objectLock === undefined ? {} : { objectLock }),
    ...(born === undefined ? {} : { born }),
    ...(ended === undefined ? {} : { ended }),
    ...(incarnation === undefined ? {} : { incarnation }),
    ...(created === undefined ? {} : { created }),
    holders,
  }
}

function optionalUint (o: Record<string, unknown>, name: string, what: string): Record<string, number> {
  return o[name] === undefined ? {} : { [name]: uint(o[name], `${what}.${name}`) }
}

function lifecycleRules (x: unknown): LifecycleRule[] {
  if (!Array.isArray(x) || x.length > 1000) malformed('entry.lifecycle is not a list of at most 1000 rules')
  return x.map((r, i) => {
    const what = `lifecycle[${i}]`
    const o = obj(r, what)
    if (typeof o.enabled !== 'boolean') malformed(`${what}.enabled`)
    const f = obj(o.filter, `${what}.filter`)
    const filter: LifecycleFilter = {
      ...(f.prefix === undefined ? {} : { prefix: str(f.prefix, `${what}.filter.prefix`, 1024) }),
      ...(f.tags === undefined ? {} : { tags: stringMap(f.tags, `${what}.filter.tags`) }),
      ...optionalUint(f, 'sizeGreaterThan', `${what}.filter`),
      ...optionalUint(f, 'sizeLessThan', `${what}.filter`),
    }
    const rule: LifecycleRule = { ...(o.id === undefined ? {} : { id: str(o.id, `${what}.id`, 255) }), enabled: o.enabled, filter }
    if (o.expiration !== undefined) {
      const e = obj(o.expiration, `${what}.expiration`)
      if (e.expiredObjectDeleteMarker !== undefined && typeof e.expiredObjectDeleteMarker !== 'boolean') malformed(`${what}.expiration.expiredObjectDeleteMarker`)
      const date = e.date === undefined ? undefined : str(e.date, `${what}.expiration.date`, 32)
      if (date !== undefined && Number.isNaN(Date.parse(date))) malformed(`${what}.expiration.date is not a date`)
      rule.expiration = {
        ...optionalUint(e, 'days', `${what}.expiration`),
        ...(date === undefined ? {} : { date }),
        ...(e.expiredObjectDeleteMarker === undefined ? {} : { expiredObjectDeleteMarker: e.expiredObjectDeleteMarker as boolean }),
      }
    }
    if (o.noncurrentVersionExpiration !== undefined) {
      const n = obj(o.noncurrentVersionExpiration, `${what}.noncurrentVersionExpiration`)
      rule.noncurrentVersionExpiration = { noncurrentDays: uint(n.noncurrentDays, `${what}.noncurrentDays`), ...optionalUint(n, 'newerNoncurrentVersions', what) }
    }
    if (o.abortIncompleteMultipartUpload !== undefined) {
      const a = obj(o.abortIncompleteMultipartUpload, `${what}.abortIncompleteMultipartUpload`)
      rule.abortIncompleteMultipartUpload = { daysAfterInitiation: uint(a.daysAfterInitiation, `${what}.daysAfterInitiation`) }
    }
    return rule
  })
}

/** Decodes and validates a catalog message field by field. Throws DroppedMessageError with the reason. */
export function decodeCatalogMessage (data: Uint8Array, limits: CatalogLimits = CATALOG_LIMITS): CatalogMessage {
  const envelope = decodeStrictMap(data, 'catalog message', limits.maxMessageBytes)
  if (envelope.v !== CATALOG_WIRE_VERSION) throw new DroppedMessageError('bad-version', `Catalog wire version ${String(envelope.v)} is not ${CATALOG_WIRE_VERSION}.`)
  if (envelope.kind !== 'catalog') malformed('not a catalog message')
  if (!Array.isArray(envelope.entries) || envelope.entries.length > limits.maxEntries) malformed('entries')
  const versions = envelope.versions ?? []
  if (!Array.isArray(versions) || envelope.entries.length + versions.length > limits.maxEntries) malformed('versions')
  const sentTo = envelope.sentTo
  if (sentTo !== undefined && (!Array.isArray(sentTo) || !sentTo.every(m => typeof m === 'string'))) malformed('sentTo')
  // A longer list or longer marks (a later release's) only cost the forwarding they would have spared: read as none.
  const listed = sentTo !== undefined && sentTo.length <= MAX_SENT_TO && sentTo.every(m => (m as string).length <= 16)
  return { kind: 'catalog', entries: [...envelope.entries.map(x => entry(x)), ...versions.map(slotEntry)], ...(listed ? { sentTo: sentTo as string[] } : {}) }
}

/**
 * A listing page as ListObjects shows it, in columns: what a member that does
 * not own a bucket asks its owner for. About 80 bytes a key against 470 for
 * full entries (holders, metadata, tags), and a fifth of the time to encode
 * and check.
 */
export interface ListingColumns { keys: string[], sizes: number[], etags: string[], modified: number[] }

export function listingColumns (entries: CatalogEntry[]): ListingColumns {
  const live = entries.filter(e => e.key !== undefined && e.object !== undefined)
  return {
    keys: live.map(e => e.key!),
    sizes: live.map(e => e.object!.size),
    etags: live.map(e => e.object!.etag),
    modified: live.map(e => e.object!.lastModified),
  }
}

/** Checks a listing page's columns (at most `max` keys, in strictly rising order) and turns them into summaries. */
export function decodeListingColumns (m: Record<string, unknown>, max: number): ObjectSummary[] {
  const { keys, sizes, etags, modified } = m
  if (!Array.isArray(keys) || !Array.isArray(sizes) || !Array.isArray(etags) || !Array.isArray(modified)) malformed('a listing without its columns')
  const n = keys.length
  if (n > max || sizes.length !== n || etags.length !== n || modified.length !== n) malformed('listing columns of different lengths')
  const out: ObjectSummary[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const key = str(keys[i], 'listing key', 1024, 1)
    if (i > 0 && compareKeys(key, out[i - 1]!.key) <= 0) malformed('listing keys out of order')
    out[i] = { key, size: uint(sizes[i], 'listing size'), etag: str(etags[i], 'listing etag', 80, 1), lastModified: new Date(uint(modified[i], 'listing lastModified')) }
  }
  return out
}

/** A write on its way to a replica, before its version exists (the transfer protocol's streamed push). */
export function encodeWriteHead (head: WriteHead): Uint8Array {
  const metadata = Object.fromEntries(Object.entries(head.metadata).filter(([, v]) => v !== undefined))
  return encode({ v: CATALOG_WIRE_VERSION, kind: 'write', bucket: head.bucket, key: head.key, metadata, tags: head.tags, ...(head.size === undefined ? {} : { size: head.size }) })
}

/** Decodes and validates a write head. Throws DroppedMessageError with the reason. */
export function decodeWriteHead (data: Uint8Array): WriteHead {
  const m = decodeStrictMap(data, 'write head', 64 * 1024)
  if (m.v !== CATALOG_WIRE_VERSION) throw new DroppedMessageError('bad-version', `Catalog wire version ${String(m.v)} is not ${CATALOG_WIRE_VERSION}.`)
  if (m.kind !== 'write') malformed('not a write head')
  return {
    bucket: bucketName(m.bucket, 'write.bucket'),
    key: str(m.key, 'write.key', 1024, 1),
    metadata: objectMetadata(m.metadata, 'write.metadata'),
    tags: stringMap(m.tags, 'write.tags'),
    ...(m.size === undefined ? {} : { size: uint(m.size, 'write.size') }),
  }
}
