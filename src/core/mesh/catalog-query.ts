import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import { S3Error } from '../errors.js'
import type { Keyring } from '../wire/keyring.js'
import { answerSealed, askSealed } from '../wire/sealed-request.js'
import type { ObjectSummary } from '../object-store.js'
import { decodeCatalogMessage, decodeListingColumns, encodeCatalogMessage, listingColumns } from './catalog-codec.js'
import { compareKeys } from '../key-order.js'
import { NULL_VERSION } from '../versioning.js'
import { createdOf, inKeyOrder, slotOf, type CatalogEntry } from './catalog-entry.js'
import { fingerprint, type Catalog, type Digest, type VersionRow } from './catalog.js'
import { compareVersions } from './hlc.js'

/** Questions to a bucket's owners, and entries handed to a member: sealed with the cluster key. */
export const QUERY_PROTOCOL = '/s3mesh/catalog-query/1.0.0'

/** Entries in one `merge`. */
export const MERGE_BATCH = 1000

export interface CatalogQueryStats {
  /** Questions asked of owners, and answered here. */
  asked: number
  answered: number
  /** Questions this member could not answer (it does not own the bucket). */
  notOwner: number
  failures: number
  /** Entries other members handed this one (as an owner) by fingerprint, compared with its own. */
  compared: number
}

export interface CatalogQueryOptions {
  libp2p: Libp2p
  keyring: Keyring
  catalog: Catalog
  /** Whether this member owns a bucket's part of the catalog now. */
  owns: (bucket: string) => boolean
  /** The owners to ask about a bucket, best first, this member left out. */
  owners: (bucket: string) => string[]
  /** Entries another member hands this one (merged as gossip would be). */
  receive: (from: string, entries: CatalogEntry[]) => void
  /** Puts what was merged on stable storage before a `merge` is answered (the sender may drop its copy then). */
  persist?: () => Promise<void>
  timeoutMs?: number
}

/** A page of a bucket's listing as an owner answers it. */
export interface RemotePage { entries: CatalogEntry[], isTruncated: boolean }

/** A page of a bucket's listing with only what ListObjects shows. */
export interface RemoteListing { objects: ObjectSummary[], isTruncated: boolean }

/** A page of a bucket's versions and delete markers (Catalog.versionPage). */
export interface VersionPage { versions: VersionRow[], isTruncated: boolean }

export interface VersionPageOptions { prefix?: string, keyMarker?: string, versionIdMarker?: string, limit: number }

/**
 * The catalog partitioned by bucket needs members to ask each other: a
 * member that does not own a bucket asks one of its owners for an entry, a
 * listing page, a bucket's totals or its digest; and members hand each other
 * entries (`merge`: a holder its claims to the owners, who answer with what
 * they know of those keys; an owner the entries placement now gives a member).
 * An owner answers from its own catalog; a member that is not one says so,
 * and the asker tries the next owner.
 */
export class CatalogQuery {
  readonly stats: CatalogQueryStats = { asked: 0, answered: 0, notOwner: 0, failures: 0, compared: 0 }
  private readonly timeoutMs: number

  constructor (private readonly o: CatalogQueryOptions) {
    this.timeoutMs = o.timeoutMs ?? 10_000
  }

  async start (): Promise<void> {
    await this.o.libp2p.handle(QUERY_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    await this.o.libp2p.unhandle(QUERY_PROTOCOL)
  }

  /**
   * The entry of a bucket's object (its head; tombstones included), or of
   * its version `versionId` (`null`: the null slot), as an owner has it;
   * undefined when none has it.
   */
  async get (bucket: string, key: string, signal?: AbortSignal, versionId?: string): Promise<CatalogEntry | undefined> {
    const a = await this.fromOwners(bucket, { op: 'get', bucket, key, ...(versionId === undefined ? {} : { versionId }) }, signal)
    const e = a.entries instanceof Uint8Array ? decodeCatalogMessage(a.entries).entries[0] : undefined
    if (e !== undefined && (e.bucket !== bucket || e.key !== key)) throw new DroppedMessageError('malformed', 'An answer about another key.')
    // An owner of an older release answers with the key's head whatever version was asked: not the slot asked for.
    if (e !== undefined && versionId !== undefined && slotOf(e) !== (versionId === NULL_VERSION ? '' : versionId)) throw new S3Error('ServiceUnavailable', 'An owner of this bucket\'s catalog runs a release that keeps no versions: upgrade every node.')
    return e
  }

  /** The entries of several keys of a bucket (those an owner has), at most MERGE_BATCH a question. */
  async getMany (bucket: string, keys: string[], signal?: AbortSignal): Promise<CatalogEntry[]> {
    const out: CatalogEntry[] = []
    for (let i = 0; i < keys.length; i += MERGE_BATCH) {
      const a = await this.fromOwners(bucket, { op: 'get', bucket, keys: keys.slice(i, i + MERGE_BATCH) }, signal)
      if (a.entries instanceof Uint8Array) out.push(...decodeCatalogMessage(a.entries).entries)
    }
    return out
  }

  /** A page of a bucket's live objects, as an owner lists it. */
  async page (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }, signal?: AbortSignal): Promise<RemotePage> {
    const a = await this.fromOwners(bucket, pageQuestion('page', bucket, options), signal)
    if (!(a.entries instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'A page without entries.')
    return { entries: inKeyOrder(decodeCatalogMessage(a.entries).entries), isTruncated: a.truncated === true }
  }

  /**
   * A page of a bucket's live objects as ListObjects shows them (key, size,
   * ETag, date), as an owner lists it: a sixth of a full page's bytes.
   */
  async listing (bucket: string, options: { prefix?: string, startAfter?: string, limit: number }, signal?: AbortSignal): Promise<RemoteListing> {
    const question = pageQuestion('list', bucket, options)
    const a = await this.fromOwners(bucket, question, signal)
    return { objects: decodeListingColumns(a, question.limit), isTruncated: a.truncated === true }
  }

  /** A page of a bucket's versions and delete markers, as an owner lists them. */
  async versions (bucket: string, options: VersionPageOptions, signal?: AbortSignal): Promise<VersionPage> {
    const limit = Math.min(1000, Math.max(1, options.limit))
    const a = await this.fromOwners(bucket, {
      op: 'versions', bucket, limit,
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      ...(options.keyMarker === undefined ? {} : { keyMarker: options.keyMarker }),
      ...(options.versionIdMarker === undefined ? {} : { versionIdMarker: options.versionIdMarker }),
    }, signal)
    if (!(a.entries instanceof Uint8Array) || !Array.isArray(a.latest)) throw new DroppedMessageError('malformed', 'A page of versions without its entries.')
    const entries = decodeCatalogMessage(a.entries).entries
    if (entries.length > limit || entries.some(e => e.key === undefined || e.deleted || e.bucket !== bucket)) throw new DroppedMessageError('malformed', 'A page of versions with entries that are not versions of the bucket.')
    // The message keeps null slots and others apart: back in the page's order (key, then newest first).
    entries.sort((x, y) => compareKeys(x.key!, y.key!) || compareVersions(createdOf(y), createdOf(x)) || (slotOf(x) < slotOf(y) ? 1 : slotOf(x) > slotOf(y) ? -1 : 0))
    const latest = new Set(a.latest.map(n => typeof n === 'number' ? n : -1))
    return { versions: entries.map((entry, i) => ({ entry, latest: latest.has(i) })), isTruncated: a.truncated === true }
  }

  /** A bucket's live objects and their bytes, and its versions and delete markers (an owner of an older release counts none), as an owner counts them. */
  async totals (bucket: string, signal?: AbortSignal): Promise<{ objects: number, bytes: number, versions?: number }> {
    const a = await this.fromOwners(bucket, { op: 'totals', bucket }, signal)
    if (!Number.isInteger(a.objects) || !Number.isInteger(a.bytes) || (a.versions !== undefined && !Number.isInteger(a.versions))) throw new DroppedMessageError('malformed', 'Totals without their numbers.')
    return { objects: a.objects as number, bytes: a.bytes as number, ...(a.versions === undefined ? {} : { versions: a.versions as number }) }
  }

  /** `peer`'s digest of a whole bucket, if it owns it (else undefined). */
  async digest (peer: string, bucket: string, signal?: AbortSignal): Promise<Digest | undefined> {
    const a = await this.ask(peer, { op: 'digest', bucket }, signal)
    if (a.status !== 'ok') return undefined
    if (!Number.isInteger(a.a) || !Number.isInteger(a.b)) throw new DroppedMessageError('malformed', 'A digest without its numbers.')
    return { a: a.a as number, b: a.b as number }
  }

  /** Hands `peer` entries to merge; resolves with what it knows of those keys (its entries, newer or not). */
  async merge (peer: string, entries: CatalogEntry[], signal?: AbortSignal): Promise<CatalogEntry[]> {
    const known: CatalogEntry[] = []
    for (let i = 0; i < entries.length; i += MERGE_BATCH) {
      const a = await this.ask(peer, { op: 'merge', entries: encodeCatalogMessage(entries.slice(i, i + MERGE_BATCH)) }, signal)
      if (a.entries instanceof Uint8Array) known.push(...decodeCatalogMessage(a.entries).entries)
    }
    return known
  }

  /**
   * Of a bucket's `entries`, the ones `peer` has otherwise or not at all,
   * compared by fingerprint (8 bytes an entry, with its key): what a
   * hand-over still has to send whole. Rejects when `peer` does not own the
   * bucket, or is of a version that does not know the question.
   */
  async differing (peer: string, bucket: string, entries: CatalogEntry[], signal?: AbortSignal): Promise<CatalogEntry[]> {
    const out: CatalogEntry[] = []
    for (let i = 0; i < entries.length; i += MERGE_BATCH) {
      const batch = entries.slice(i, i + MERGE_BATCH)
      const prints = new Uint8Array(8 * batch.length)
      const view = new DataView(prints.buffer)
      batch.forEach((e, j) => { const [a, b] = fingerprint(e); view.setUint32(8 * j, a); view.setUint32(8 * j + 4, b) })
      const a = await this.ask(peer, { op: 'compare', bucket, keys: batch.map(e => e.key!), prints }, signal)
      if (a.status !== 'ok') throw new Error(`${peer} does not own ${bucket} (yet)`)
      const differ = a.differ
      if (!Array.isArray(differ) || !differ.every(n => Number.isInteger(n) && n >= 0 && n < batch.length)) throw new DroppedMessageError('malformed', 'A comparison without its answer.')
      for (const n of differ as number[]) out.push(batch[n]!)
    }
    return out
  }

  /** Asks the bucket's owners in turn until one answers as an owner. */
  private async fromOwners (bucket: string, request: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    let last: unknown
    for (const peer of this.o.owners(bucket)) {
      try {
        const a = await this.ask(peer, request, signal)
        if (a.status === 'ok') return a
        last = new Error(`${peer} does not own ${bucket} (yet)`)
      } catch (err) {
        if (signal?.aborted === true) throw err
        last = err
      }
    }
    throw Object.assign(new Error(`No owner of ${bucket}'s catalog answered: ${String(last ?? 'none is known')}`), { code: 'NoOwner' })
  }

  private async ask (peer: string, request: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const s = AbortSignal.any([signal ?? AbortSignal.timeout(this.timeoutMs), AbortSignal.timeout(this.timeoutMs)])
    this.stats.asked++
    try {
      return await askSealed(this.o.libp2p, this.o.keyring, peer, QUERY_PROTOCOL, request, { signal: s })
    } catch (err) {
      this.stats.failures++
      throw err
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const answered = await answerSealed(stream, from, this.o.keyring, async r => await this.answer(from, r), { signal: AbortSignal.timeout(this.timeoutMs) })
    if (answered) this.stats.answered++
    else this.stats.failures++
  }

  private async answer (from: string, r: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { catalog, owns } = this.o
    if (r.op === 'merge') {
      if (!(r.entries instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'A merge without entries.')
      const entries = decodeCatalogMessage(r.entries).entries.slice(0, MERGE_BATCH)
      this.o.receive(from, entries)
      await this.o.persist?.()
      const known = entries.flatMap(e => { const now = e.key === undefined ? catalog.get(e.bucket) : catalog.slot(e.bucket, e.key, e.versionId); return now === undefined ? [] : [now] })
      return { status: 'ok', entries: encodeCatalogMessage(known) }
    }
    if (typeof r.bucket !== 'string' || r.bucket.length > 63) throw new DroppedMessageError('malformed', 'A question without its bucket.')
    const bucket = r.bucket
    if (!owns(bucket)) {
      this.stats.notOwner++
      return { status: 'not-owner' }
    }
    switch (r.op) {
      case 'get': {
        const keys = typeof r.key === 'string' ? [r.key] : r.keys
        if (!Array.isArray(keys) || keys.length > MERGE_BATCH || !keys.every(k => typeof k === 'string')) throw new DroppedMessageError('malformed', 'A get without its keys.')
        const versionId = r.versionId
        if (versionId !== undefined && (typeof versionId !== 'string' || versionId === '' || versionId.length > 1024 || keys.length !== 1)) throw new DroppedMessageError('malformed', 'A get of a malformed version.')
        const find = (k: string): CatalogEntry | undefined => versionId === undefined ? catalog.get(bucket, k) : catalog.slot(bucket, k, versionId === NULL_VERSION ? undefined : versionId)
        const found = (keys as string[]).flatMap(k => { const e = find(k); return e === undefined ? [] : [e] })
        return { status: 'ok', ...(found.length === 0 ? {} : { entries: encodeCatalogMessage(found) }) }
      }
      case 'page':
      case 'list': {
        const limit = r.limit
        if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 1000 || (r.prefix !== undefined && typeof r.prefix !== 'string') || (r.startAfter !== undefined && typeof r.startAfter !== 'string')) {
          throw new DroppedMessageError('malformed', 'A page with a bad limit, prefix or start.')
        }
        const page = catalog.page(bucket, { limit: limit as number, ...(r.prefix === undefined ? {} : { prefix: r.prefix as string }), ...(r.startAfter === undefined ? {} : { startAfter: r.startAfter as string }) })
        if (r.op === 'list') return { status: 'ok', ...listingColumns(page.entries), truncated: page.isTruncated }
        return { status: 'ok', entries: encodeCatalogMessage(page.entries), truncated: page.isTruncated }
      }
      case 'versions': {
        const { limit, prefix, keyMarker, versionIdMarker } = r
        if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 1000 || [prefix, keyMarker, versionIdMarker].some(x => x !== undefined && typeof x !== 'string')) {
          throw new DroppedMessageError('malformed', 'A page of versions with a bad limit, prefix or marker.')
        }
        const page = catalog.versionPage(bucket, { limit: limit as number, ...(prefix === undefined ? {} : { prefix: prefix as string }), ...(keyMarker === undefined ? {} : { keyMarker: keyMarker as string }), ...(versionIdMarker === undefined ? {} : { versionIdMarker: versionIdMarker as string }) })
        return { status: 'ok', entries: encodeCatalogMessage(page.versions.map(v => v.entry)), latest: page.versions.flatMap((v, i) => v.latest ? [i] : []), truncated: page.isTruncated }
      }
      case 'compare': {
        const { keys, prints } = r
        if (!Array.isArray(keys) || keys.length > MERGE_BATCH || !keys.every(k => typeof k === 'string') || !(prints instanceof Uint8Array) || prints.length !== 8 * keys.length) {
          throw new DroppedMessageError('malformed', 'A comparison without its keys or fingerprints.')
        }
        const view = new DataView(prints.buffer, prints.byteOffset, prints.byteLength)
        const differ: number[] = []
        for (let j = 0; j < keys.length; j++) {
          const e = catalog.get(bucket, keys[j] as string)
          const f = e === undefined ? undefined : fingerprint(e)
          if (f === undefined || f[0] !== view.getUint32(8 * j) || f[1] !== view.getUint32(8 * j + 4)) differ.push(j)
        }
        this.stats.compared += keys.length
        return { status: 'ok', differ }
      }
      case 'totals':
        return { status: 'ok', ...catalog.bucketTotals(bucket), versions: catalog.versionTotals(bucket).versions }
      case 'digest':
        return { status: 'ok', ...catalog.digest(bucket) }
      default:
        throw new DroppedMessageError('malformed', 'Unknown catalog question.')
    }
  }
}

/** A question for a page of a bucket: full entries (`page`) or the listing's columns (`list`), 1 to 1,000 keys. */
function pageQuestion (op: 'page' | 'list', bucket: string, options: { prefix?: string, startAfter?: string, limit: number }): { op: string, bucket: string, limit: number } & Record<string, unknown> {
  return {
    op, bucket, limit: Math.min(1000, Math.max(1, options.limit)),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.startAfter === undefined ? {} : { startAfter: options.startAfter }),
  }
}
