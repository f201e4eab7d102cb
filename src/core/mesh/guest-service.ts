import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { GuestRefusedError, MAX_ADMISSION_BYTES } from '../access/admission.js'
import type { Hashes } from '../hashes.js'
import type { Membership } from '../membership/membership.js'
import { decodeNodeMeta } from '../membership/node-meta.js'
import { PLAIN_FRAMES, SealedFrames } from '../wire/sealed-frames.js'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import { decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import { compareSlotAge, isLiveObject, type CatalogEntry } from './catalog-entry.js'
import type { Catalog } from './catalog.js'
import type { CatalogPartition } from './catalog-partition.js'
import type { TypedEventEmitter } from 'main-event'
import { compareVersions } from './hlc.js'
import type { Guest, GuestGate } from './guest-gate.js'
import { EXISTING_TAG_KEYS } from '../access/access-control.js'
import { serveFeed, type FeedHost } from './guest-feed.js'
import { GuestHoldings, MAX_HOLDINGS_PER_GUEST } from './guest-holdings.js'
import type { LocalCopies } from './local-copies.js'
import { TransferService, type TransferOptions } from './transfer.js'
import { MEMBER_REQUEST_MAX_BYTES } from './transfer-server.js'
import { FIRST_FRAMES } from '../wire/held-bytes.js'

/** Guests' requests to a member: the catalog feed, one key's entry, announcing what the guest holds. */
export const GUEST_PROTOCOL = '/s3mesh/guest/1.0.0'
/** Object bytes to and from guests: `get` only (a guest writes through S3, where the node decides and replicates). */
export const GUEST_TRANSFER_PROTOCOL = '/s3mesh/guest-transfer/1.0.0'

/**
 * The guest transfer protocol over a peer's own copies: bytes served (`get`,
 * decided by `authorize`), never taken (guests write through S3).
 */
export function guestTransfer (
  libp2p: Libp2p, copies: LocalCopies, hashes: Hashes, options: Pick<TransferOptions, 'idleTimeoutMs' | 'authorize' | 'credentials'>,
  head?: (bucket: string, key: string, signal: AbortSignal) => Promise<CatalogEntry | undefined>,
): TransferService {
  return new TransferService(libp2p, PLAIN_FRAMES, {
    // A guest reads current objects only: a version it names is not looked up (reads by version id go through S3,
    // decided by s3:GetObjectVersion). In a bucket keeping versions, the content asked for must be the key's current
    // version (`head`), so a guest allowed s3:GetObject cannot read an old one, or one behind a delete marker.
    openLocal: async (bucket, key, sha256, signal) => {
      if (head === undefined || !copies.versioned(bucket)) return await copies.openLocal(bucket, key, sha256, signal)
      const now = await head(bucket, key, signal)
      if (now === undefined || !isLiveObject(now) || now.object!.sha256 !== sha256) return undefined
      return await copies.openLocal(bucket, key, sha256, signal, copies.localId(now))
    },
    accept: async () => { throw new Error('guests do not take pushes') },
    acceptStreamed: async () => { throw new Error('guests do not take pushes') },
    hashes,
    onCorrupt: () => {},
  }, { ...options, protocol: GUEST_TRANSFER_PROTOCOL, firstRequestMaxBytes: MAX_ADMISSION_BYTES + MEMBER_REQUEST_MAX_BYTES })
}

/**
 * Items a guest's message may hold: its largest, a feed's opening, names at
 * most MAX_HELD held keys (three items each) and a few hundred more. A
 * guest's messages are decoded before its admission is checked.
 */
const GUEST_MAX_ITEMS = 3 * MAX_HOLDINGS_PER_GUEST + 10_000

/** Entries one listing request looks at, at most (keys held back from the guest included). */
const LIST_SCAN = 20_000
/** Entries one announcement may carry. */
const MAX_ANNOUNCED = 1000

/** What a guest is told of the mesh: the durable members (and the relays among them), and other guests' addresses for WebRTC; never their users. */
export interface GuestPeer {
  id: string
  role: 'durable' | 'relay' | 'guest'
  state: string
  addrs: string[]
}

export interface GuestStats {
  /** Feeds open now, and opened in all. */
  feeds: number
  feedsOpened: number
  /** Entries sent to guests, and those held back (keys and buckets the guest may not list). */
  entriesSent: number
  entriesFiltered: number
  /** Holdings guests announced and this member took (forwarded to the cluster). */
  holdingsTaken: number
  served: number
}

export interface GuestServiceOptions {
  libp2p: Libp2p
  catalog: Catalog
  /** Where object entries are read: this member's catalog for what it keeps, a bucket's owners for the rest. */
  partition: Pick<CatalogPartition, 'entry' | 'entries' | 'page' | 'totals'>
  /** Entries this member heard and did not keep (`passed`): a guest watching their bucket is told of them too. */
  heard: TypedEventEmitter<{ passed: CustomEvent<CatalogEntry> }>
  copies: LocalCopies
  membership: Membership
  hashes: Hashes
  gate: GuestGate
  /** Hears of a bucket's object entries until the returned function is called (this member may not own it): a feed's followed and held buckets. */
  follow?: (bucket: string) => () => void
  idleTimeoutMs?: number
}

/**
 * The durable member's side of guests (browser tabs admitted by a member):
 * every request is checked against the guest's admission and its user's
 * rights (GuestGate) before anything is read or sent. A guest gets the
 * entries of the buckets and keys it holds or follows and may list, news of
 * the durable members, listing pages and single entries on request; the bytes
 * of objects it may read; and may tell which versions it now holds (kept on
 * this member for the guests following it; never a new version or a delete:
 * those are S3 writes, decided and replicated by a node). What it may not do
 * is refused and counted, never forwarded.
 */
export class GuestService {
  readonly stats: GuestStats = { feeds: 0, feedsOpened: 0, entriesSent: 0, entriesFiltered: 0, holdingsTaken: 0, served: 0 }
  readonly transfer: TransferService
  /** Guests that follow this member's feed, with the addresses they gave (for other guests' WebRTC dials). */
  private readonly guests = new Map<string, { addrs: string[], expires: number }>()
  private readonly closing = new AbortController()
  /** Feeds told when the guests following this member change (arrive, leave, move addresses). */
  private readonly directoryListeners = new Set<() => void>()
  /** Each guest's one following feed: a second one replaces the first. */
  private readonly feeds = new Map<string, SealedFrames>()
  /** The guests with a following feed, by user (guest-feed.ts). */
  private readonly feedsByUser = new Map<string, Set<string>>()
  /** What the guests following this member hold (not replicated: gone with the guest's feed). */
  private readonly holdings = new GuestHoldings()
  /** Feeds told of an entry whose guest holders changed. */
  private readonly holdingListeners = new Set<(e: CatalogEntry) => void>()

  /** What this member's feeds share with it (guest-feed.ts). */
  private readonly feedHost: FeedHost

  constructor (private readonly o: GuestServiceOptions) {
    const gate = o.gate
    this.feedHost = {
      o,
      stats: this.stats,
      holdings: this.holdings,
      feeds: this.feeds,
      feedsByUser: this.feedsByUser,
      guests: this.guests,
      directoryListeners: this.directoryListeners,
      holdingListeners: this.holdingListeners,
      peers: except => this.peers(except),
      relayed: addrs => this.relayed(addrs),
      shown: (g, e) => this.shown(g, e),
    }
    this.transfer = guestTransfer(o.libp2p, o.copies, o.hashes, {
      idleTimeoutMs: o.idleTimeoutMs ?? 10_000,
      authorize: async (from, r, signal) => {
        const g = await gate.who(from, r.admission)
        if (r.op !== 'get') {
          gate.count('denied')
          throw new GuestRefusedError('denied', 'Guests fetch objects; they write through S3.')
        }
        if (typeof r.bucket !== 'string' || typeof r.key !== 'string') {
          gate.count('malformed')
          throw new DroppedMessageError('malformed', 'A get without its bucket and key.')
        }
        const { bucket, key } = r
        await gate.checkGet(g, bucket, key, async () => await o.partition.entry(bucket, key, signal))
        this.stats.served++
      },
    }, async (bucket, key, signal) => await o.partition.entry(bucket, key, signal))
  }

  /** What decides guests' requests here (and counts what it refuses). */
  get gate (): GuestGate { return this.o.gate }

  async start (): Promise<void> {
    await this.o.libp2p.handle(GUEST_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { runOnLimitedConnection: false })
    await this.transfer.start()
  }

  async stop (): Promise<void> {
    this.closing.abort()
    await this.o.libp2p.unhandle(GUEST_PROTOCOL)
    await this.transfer.stop()
  }

  /** Guests following this member now (the members API lists them; their users are not told). */
  list (): Array<{ id: string, addrs: string[], expires: number }> {
    const now = Date.now()
    return [...this.guests].filter(([, g]) => g.expires > now).map(([id, g]) => ({ id, ...g }))
  }

  /**
   * A guest's addresses that other guests may dial: only through a durable
   * member's relay (circuit relay, WebRTC signalled through it). Anything
   * else a guest claims would have other tabs open connections wherever it
   * pointed them.
   */
  private relayed (addrs: string[]): string[] {
    // The relays' own addresses, as they advertise them: a guest's must begin with one of them.
    const self = this.o.libp2p.peerId.toString()
    const relays = [
      ...this.o.libp2p.getMultiaddrs().map(String).map(a => a.endsWith(`/p2p/${self}`) ? a : `${a}/p2p/${self}`),
      ...this.peers('').filter(p => p.role !== 'guest').flatMap(p => p.addrs.map(a => a.endsWith(`/p2p/${p.id}`) ? a : `${a}/p2p/${p.id}`)),
    ]
    return addrs.filter(a => relays.some(r => a.startsWith(`${r}/p2p-circuit/`) || a === `${r}/p2p-circuit`))
  }

  /** The durable members and relays alive or suspected, and the guests following this member, but `except`. */
  peers (except: string): GuestPeer[] {
    const out: GuestPeer[] = []
    for (const m of this.o.membership.list()) {
      const meta = decodeNodeMeta(m.meta)
      if ((meta?.role !== 'durable' && meta?.role !== 'relay') || (m.state !== 'alive' && m.state !== 'suspect')) continue
      out.push({ id: m.id, role: meta.role, state: m.state, addrs: meta.addrs })
    }
    for (const g of this.list()) if (g.id !== except) out.push({ id: g.id, role: 'guest', state: 'alive', addrs: g.addrs })
    return out
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const frames = new SealedFrames(stream, PLAIN_FRAMES, { idleTimeoutMs: this.o.idleTimeoutMs ?? 10_000, firstFrames: FIRST_FRAMES.for(connection.remotePeer.toString()), maxItems: GUEST_MAX_ITEMS })
    const from = connection.remotePeer.toString()
    try {
      const r = await frames.receive()
      let g: Guest
      try {
        g = await this.o.gate.who(from, r.admission)
      } catch (err) {
        await frames.send({ status: 'refused', reason: err instanceof GuestRefusedError ? err.reason : 'malformed', message: String((err as Error).message) })
        await frames.close()
        return
      }
      if (r.op === 'feed') await serveFeed(this.feedHost, frames, g, r)
      else if (r.op === 'lookup') await this.lookup(frames, g, r)
      else if (r.op === 'announce') await this.announced(frames, g, r)
      else if (r.op === 'list') await this.listPage(frames, g, r)
      else if (r.op === 'totals') await this.totals(frames, g, r)
      else throw new DroppedMessageError('malformed', 'Unknown guest operation.')
    } catch (err) {
      if (err instanceof DroppedMessageError) this.o.gate.count('malformed')
      frames.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * A page of a bucket's listing, as ListObjectsV2 pages the store: up to
   * `limit` keys the guest may list after `startAfter`, whether more follow,
   * and where the walk stopped (`after`; past keys held back, so that a
   * guest allowed a sliver of a large bucket still moves on). A walk looks at
   * LIST_SCAN entries at most.
   */
  private async listPage (frames: SealedFrames, g: Guest, r: Record<string, unknown>): Promise<void> {
    const { bucket, prefix, startAfter } = r
    const limit = r.limit
    if (typeof bucket !== 'string' || (prefix !== undefined && typeof prefix !== 'string') || (startAfter !== undefined && typeof startAfter !== 'string') ||
      !Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 1000) throw new DroppedMessageError('malformed', 'A list without its bucket or with a bad limit.')
    const gate = this.o.gate
    if (!gate.mayList(g, bucket)) {
      gate.count('denied')
      await frames.send({ status: 'refused', reason: 'denied', message: `${g.id} may not list ${bucket}.` })
      await frames.close()
      return
    }
    const want = limit as number
    const out: CatalogEntry[] = []
    let cursor = startAfter
    let scanned = 0
    let more = true
    while (out.length <= want && scanned < LIST_SCAN) {
      const options = { ...(prefix === undefined ? {} : { prefix }), ...(cursor === undefined ? {} : { startAfter: cursor }), limit: Math.min(1000, want + 1 - out.length) }
      const page = await this.o.partition.page(bucket, options)
      for (const e of page.entries) {
        scanned++
        cursor = e.key
        if (gate.mayList(g, bucket, e.key)) out.push(this.shown(g, this.holdings.withGuests(e)))
        else this.stats.entriesFiltered++
      }
      if (!page.isTruncated) { more = false; break }
    }
    const truncated = out.length > want || more
    const entries = out.slice(0, want)
    this.stats.entriesSent += entries.length
    const after = out.length > want ? entries.at(-1)?.key : cursor
    await frames.send({ status: 'ok', entries: encodeCatalogMessage(entries), truncated, ...(truncated && after !== undefined ? { after } : {}) })
    await frames.close()
  }

  /** Each bucket's live objects and bytes, for the buckets the guest may list whole (a count tells of every key). */
  private async totals (frames: SealedFrames, g: Guest, r: Record<string, unknown>): Promise<void> {
    if (!Array.isArray(r.buckets) || r.buckets.length > 1000 || !r.buckets.every(b => typeof b === 'string')) throw new DroppedMessageError('malformed', 'Totals need a list of buckets.')
    const totals: Array<[string, number, number]> = []
    for (const b of r.buckets as string[]) {
      if (this.o.catalog.get(b)?.deleted !== false || !this.o.gate.mayList(g, b, '')) continue
      const t = await this.o.partition.totals(b).catch(() => undefined)
      if (t !== undefined) totals.push([b, t.objects, t.bytes])
    }
    await frames.send({ status: 'ok', totals })
    await frames.close()
  }

  /** An entry without what the guest may not read: an object's metadata and tags need GetObject, a bucket's CORS rules GetBucketCORS, its lifecycle GetLifecycleConfiguration. */
  private shown (g: Guest, e: CatalogEntry): CatalogEntry {
    if (e.key === undefined) {
      const { cors, lifecycle, ...rest } = e
      return {
        ...rest,
        ...(cors === undefined || !this.o.gate.allows(g, 's3:GetBucketCORS', e.bucket) ? {} : { cors }),
        ...(lifecycle === undefined || !this.o.gate.allows(g, 's3:GetLifecycleConfiguration', e.bucket) ? {} : { lifecycle }),
      }
    }
    if (e.object === undefined || this.o.gate.mayRead(g, e.bucket, e.key, e)) return e
    return { ...e, object: { ...e.object, metadata: { user: {} }, tags: {} } }
  }

  /** One key's entry (a guest reading a key it may read but not list). */
  private async lookup (frames: SealedFrames, g: Guest, r: Record<string, unknown>): Promise<void> {
    if (typeof r.bucket !== 'string' || (r.key !== undefined && typeof r.key !== 'string')) throw new DroppedMessageError('malformed', 'A lookup without its bucket.')
    const key = r.key as string | undefined
    const bucket = r.bucket
    const entryOf = async (k: string): Promise<CatalogEntry | undefined> => (await this.o.partition.entries(bucket, [k]))[0]
    // Where the guest's right hangs on the object's tags (s3:ExistingObjectTag), its entry is had first.
    const first = key !== undefined && g.access.conditionsOn(g.principal, bucket, EXISTING_TAG_KEYS, 's3:GetObject') ? await entryOf(key) : undefined
    const allowed = key === undefined ? this.o.gate.mayList(g, bucket) : this.o.gate.mayRead(g, bucket, key, first)
    if (!allowed) {
      this.o.gate.count('denied')
      await frames.send({ status: 'refused', reason: 'denied', message: `${g.id} may not read ${r.bucket}${key === undefined ? '' : `/${key}`}.` })
    } else {
      const e = key === undefined ? this.o.catalog.get(bucket) : first ?? await entryOf(key)
      await frames.send(e === undefined ? { status: 'not-found' } : { status: 'ok', entries: encodeCatalogMessage([this.shown(g, this.holdings.withGuests(e))]) })
    }
    await frames.close()
  }

  /**
   * A guest telling which versions it holds: taken only from a guest that
   * follows this member, for the version the catalog has now and a key the
   * guest may read, and kept here (other guests following this member learn
   * it; the replicated catalog does not). A new version, a delete or a bucket
   * is a write, which a guest makes through S3: refused and counted (`denied`
   * when its user could not make it anyway).
   */
  private async announced (frames: SealedFrames, g: Guest, r: Record<string, unknown>): Promise<void> {
    if (!(r.entries instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'An announcement without entries.')
    const entries = decodeCatalogMessage(r.entries).entries.slice(0, MAX_ANNOUNCED)
    const gate = this.o.gate
    const following = this.feeds.has(g.id)
    let taken = 0
    const refused: Record<string, number> = {}
    const refuse = (reason: 'denied' | 'not-a-holding'): void => { gate.count(reason); refused[reason] = (refused[reason] ?? 0) + 1 }
    // What replaced a version the guest holds: it learns so here, as it may not be told by its feed (it was not known to hold it).
    const newer: CatalogEntry[] = []
    for (const e of entries) {
      const current = e.key === undefined ? this.o.catalog.get(e.bucket) : (await this.o.partition.entries(e.bucket, [e.key]).catch(() => []))[0]
      if (e.key === undefined || e.deleted || e.object === undefined) {
        // A bucket, or a delete: writes.
        const action = e.key === undefined ? (e.deleted ? 's3:DeleteBucket' : 's3:CreateBucket') : 's3:DeleteObject'
        refuse(gate.allows(g, action, e.bucket, e.key) ? 'not-a-holding' : 'denied')
        continue
      }
      const live = current !== undefined && !current.deleted && current.object !== undefined
      if (live && compareVersions(e.version, current.version) === 0 && e.object.sha256 === current.object!.sha256) {
        if (!gate.mayRead(g, e.bucket, e.key, current)) { refuse('denied'); continue }
        if (!following) { refuse('not-a-holding'); continue }
        this.holdings.hold(g.id, current)
        taken++
        for (const l of this.holdingListeners) l(current)
        continue
      }
      // An older version (a late holding): nothing to take. A version the catalog does not have: a write.
      const older = current !== undefined && compareSlotAge(e, current) < 0
      refuse(older || gate.allows(g, 's3:PutObject', e.bucket, e.key) ? 'not-a-holding' : 'denied')
      if (older && gate.mayRead(g, e.bucket, e.key, current)) newer.push(this.shown(g, this.holdings.withGuests(current)))
    }
    this.stats.holdingsTaken += taken
    await frames.send({ status: 'ok', taken, refused, ...(newer.length === 0 ? {} : { newer: encodeCatalogMessage(newer) }) })
    await frames.close()
  }
}
