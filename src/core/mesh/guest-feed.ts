/** A guest's catalog feed, served by a durable member (GuestService's `feed` request). */
import { GuestRefusedError } from '../access/admission.js'
import { MEMBER_EVENTS } from '../membership/member-events.js'
import type { SealedFrames } from '../wire/sealed-frames.js'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import { encodeCatalogMessage } from './catalog-codec.js'
import { isLiveObject, slotOf, type CatalogEntry } from './catalog-entry.js'
import type { Guest } from './guest-gate.js'
import { MAX_HOLDINGS_PER_GUEST, type GuestHoldings } from './guest-holdings.js'
import type { GuestPeer, GuestServiceOptions, GuestStats } from './guest-service.js'

/** Entries per feed frame. */
const FEED_BATCH = 500
/** Keys a guest may say it holds when it opens a feed (as many as the holdings a member keeps for it). */
export const MAX_HELD = MAX_HOLDINGS_PER_GUEST
/** Buckets a guest may follow at once. */
export const MAX_FOLLOWED = 64
/** How often a following feed re-checks its guest's admission (expiry, revocation), ms. */
const RECHECK_MS = 1000
/**
 * Buckets a feed has this member follow at most (those it follows, holds
 * keys in, or said it holds keys in), each a gossip topic here: a guest
 * naming thousands would have this member subscribe to thousands.
 */
export const MAX_WATCHED = 256
/**
 * Changes a feed may have waiting to be sent (a few MiB in all): they wait
 * while the guest reads slowly and go out together, FEED_BATCH a frame, when
 * it reads again; a guest that stops reading (its writes blocked, no frame
 * taken for STALLED_MS) is cut off past them, not queued for, and opens its
 * feed again when it reads again. A guest that reads is not: a burst of more
 * (a catalog catching up at once) goes out a batch at a time.
 */
export const MAX_WAITING_CHANGES = 16_384
/** How long a guest may take no frame of changes, ms, before MAX_WAITING_CHANGES waiting for it cut it off. */
export const STALLED_MS = 2000
/** Changes waiting that cut a guest off however recently it took a frame: one that reads more slowly than the changes come. */
export const MOST_WAITING_CHANGES = 4 * MAX_WAITING_CHANGES
/** How often a guest's new addresses are told to the other guests at most, ms: each telling sends every feed the peer list. */
const ADDRS_TOLD_MS = 2000
/**
 * Following feeds one user (or root) may have open on this member at once,
 * each a tab (a peer id) with its feed, holdings and watched buckets: a user
 * can have any number of peer ids admitted, and one user's tabs should not
 * take every connection a node keeps (about 1,300). Large, as one key may be
 * a site's shared read-only key, used by every visitor's tab. A feed past it
 * ends the one of that user's tabs that opened its feed longest ago.
 */
export const MAX_FEEDS_PER_USER = 512

/** Whose tabs a guest's feed counts among: its user (by id: one made again under the name is another), or root. */
function feedOwner (g: Guest): string {
  return g.principal.kind === 'user' ? `user:${g.principal.user.id}` : g.principal.kind
}

/** The buckets a guest follows, as it gives them: names, a few. */
function followedBuckets (v: unknown): Set<string> {
  if (v === undefined) return new Set()
  if (!Array.isArray(v) || v.length > MAX_FOLLOWED || !v.every(b => typeof b === 'string' && b.length <= 63)) throw new DroppedMessageError('malformed', 'Followed buckets are a short list of names.')
  return new Set(v as string[])
}

/** The keys a guest says it holds: [bucket, key] pairs, at most MAX_HELD. */
function heldKeys (v: unknown): Array<[string, string]> {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > MAX_HELD || !v.every(p => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && p[0].length <= 63 && typeof p[1] === 'string' && p[1].length <= 1024)) {
    throw new DroppedMessageError('malformed', 'Held keys are [bucket, key] pairs.')
  }
  return v as Array<[string, string]>
}

/** A guest's addresses as it gives them: a few, each of a sane length. */
function addresses (v: unknown): string[] {
  return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string' && a.length < 512).slice(0, 8) : []
}

/** What a feed shares with the GuestService that serves it. */
export interface FeedHost {
  readonly o: GuestServiceOptions
  readonly stats: GuestStats
  /** What the guests following the member hold. */
  readonly holdings: GuestHoldings
  /** Each guest's one following feed: a second one replaces the first. */
  readonly feeds: Map<string, SealedFrames>
  /** The guests with a following feed, by whose tabs they are (feedOwner), in the order their feeds opened. */
  readonly feedsByUser: Map<string, Set<string>>
  /** Guests that follow the member's feed, with the addresses they gave. */
  readonly guests: Map<string, { addrs: string[], expires: number }>
  /** Feeds told when the guests following the member change. */
  readonly directoryListeners: Set<() => void>
  /** Feeds told of an entry whose guest holders changed. */
  readonly holdingListeners: Set<(e: CatalogEntry) => void>
  /** The durable members, relays and guests a guest is told of, but `except`. */
  peers: (except: string) => GuestPeer[]
  /** Of a guest's addresses, those through a durable member's relay. */
  relayed: (addrs: string[]) => string[]
  /** An entry without what the guest may not read. */
  shown: (g: Guest, e: CatalogEntry) => CatalogEntry
}

/**
 * The feed: the bucket entries the guest may see and the entries of the
 * keys it says it holds (`held`), then (when it follows) each change of
 * those, of the keys it holds since, and of the buckets it follows
 * (`buckets`: a page showing a bucket), and each change of the members.
 * Never the whole catalog: what a guest receives grows with what it holds
 * and looks at, not with the mesh. Listing and reading other keys are
 * requests of their own (`list`, `lookup`).
 */
export async function serveFeed (host: FeedHost, frames: SealedFrames, first: Guest, r: Record<string, unknown>): Promise<void> {
  let g = first
  let admission = r.admission
  const gate = host.o.gate
  let addrs = host.relayed(addresses(r.addrs))
  // What this guest is told changes of, besides buckets' own entries.
  let followed = followedBuckets(r.buckets)
  const heldPairs = heldKeys(r.held)
  const heldBuckets = new Set(heldPairs.map(([b]) => b))
  const held = new Set(heldPairs.map(([b, k]) => `${b}\n${k}`))
  const interested = (e: CatalogEntry): boolean => e.key === undefined || followed.has(e.bucket) || held.has(`${e.bucket}\n${e.key}`) || host.holdings.holds(g.id, e.bucket, e.key)
  // Sends one after the other (changes may come while the snapshot is being sent); the first failure ends the feed.
  // A message made when its turn comes (a function) says what is so by then; undefined sends nothing.
  let sending = Promise.resolve()
  let failed = false
  const cutOff = (err: Error): void => {
    failed = true
    frames.abort(err)
  }
  const send = (m: Record<string, unknown> | (() => Record<string, unknown> | undefined)): void => {
    if (failed) return
    sending = sending.then(async () => {
      const message = failed ? undefined : typeof m === 'function' ? m() : m
      if (message !== undefined) await frames.send(message)
    }).catch((err: unknown) => { cutOff(err instanceof Error ? err : new Error(String(err))) })
  }
  /** What the guest may see of entries: those it may list, without what only reading would show it. */
  const visible = (entries: Iterable<CatalogEntry>): CatalogEntry[] => {
    const out: CatalogEntry[] = []
    for (const e of entries) {
      if (!gate.mayList(g, e.bucket, e.key)) { host.stats.entriesFiltered++; continue }
      // A guest keeps no versions: of a key in a bucket keeping them, it hears the current version (and removals
      // and markers, which carry no bytes), never an older version's content.
      const head = e.key === undefined || !host.o.copies.versioned(e.bucket) ? undefined : host.o.catalog.get(e.bucket, e.key)
      if (head !== undefined && isLiveObject(e) && slotOf(head) !== slotOf(e)) { host.stats.entriesFiltered++; continue }
      out.push(host.shown(g, host.holdings.withGuests(e)))
      // A removal or a marker may have made an older version current: the guest hears that one too.
      if (head !== undefined && !isLiveObject(e) && isLiveObject(head) && slotOf(head) !== slotOf(e)) out.push(host.shown(g, host.holdings.withGuests(head)))
    }
    host.stats.entriesSent += out.length
    return out
  }
  const follow = r.follow === true
  /** The buckets whose announcements this member follows for the feed (a follow each), and the ones it should. */
  const watched = new Map<string, () => void>()
  /** A bucket whose keys the feed may follow or look up: one that exists and the guest may see. */
  const followable = (b: string): boolean => host.o.catalog.get(b)?.deleted === false && gate.mayList(g, b)
  const watch = (): void => {
    if (!follow || host.o.follow === undefined) return
    // Only buckets that exist and the guest may see, and MAX_WATCHED of them: each is a topic this member subscribes to.
    const want = new Set<string>()
    for (const b of [...followed, ...heldBuckets, ...host.holdings.bucketsOf(g.id)]) {
      if (want.size >= MAX_WATCHED) break
      if (!want.has(b) && followable(b)) want.add(b)
    }
    for (const [b, unfollow] of watched) if (!want.has(b)) { unfollow(); watched.delete(b) }
    for (const b of want) if (!watched.has(b)) watched.set(b, host.o.follow(b))
  }
  // Changes not sent yet, and whether a frame that takes them waits for its turn: one at a time, so that a burst,
  // or many changes while the guest reads slowly, go out in frames of FEED_BATCH.
  const pending: CatalogEntry[] = []
  let changesQueued = false
  /** Since when the frame of changes waiting for its turn has waited (while the frame before it goes out). */
  let queuedAt = 0
  const sendChanges = (): void => {
    if (changesQueued) return
    changesQueued = true
    queuedAt = Date.now()
    send(() => {
      changesQueued = false
      const batch = visible(pending.splice(0, FEED_BATCH))
      if (pending.length > 0) sendChanges()
      return batch.length > 0 ? { entries: encodeCatalogMessage(batch) } : undefined
    })
  }
  const onChange = (e: CatalogEntry): void => {
    if (e.key !== undefined && !watched.has(e.bucket) && host.holdings.holds(g.id, e.bucket, e.key)) watch()
    // A bucket the feed names, made or deleted (heard after the feed opened, or while this member catches up): followed
    // from now on, or no longer. Only such a one: every bucket's change would walk every feed's held buckets.
    if (e.key === undefined && (followed.has(e.bucket) || heldBuckets.has(e.bucket) || watched.has(e.bucket))) watch()
    if (!interested(e)) return
    if (failed) return
    // (Changes waiting have a frame queued for them: its wait is how long the guest has taken none.)
    if (pending.length >= MAX_WAITING_CHANGES && Date.now() - queuedAt >= STALLED_MS) {
      cutOff(new Error(`The guest stopped reading: ${MAX_WAITING_CHANGES} changes waited for it, none taken for ${STALLED_MS} ms. Cut off.`))
      return
    }
    if (pending.length >= MOST_WAITING_CHANGES) {
      cutOff(new Error(`The guest reads more slowly than the changes come: ${MOST_WAITING_CHANGES} waited for it. Cut off.`))
      return
    }
    pending.push(e)
    sendChanges()
  }
  const onCatalog = (e: CustomEvent<CatalogEntry>): void => { onChange(e.detail) }
  // Coalesced: a burst of member or directory changes sends the list once, as it is when sent.
  let peersQueued = false
  const onMembers = (): void => {
    if (peersQueued) return
    peersQueued = true
    send(() => { peersQueued = false; return { peers: host.peers(g.id) } })
  }
  // A change of the guest's addresses is told to the other guests at most once per ADDRS_TOLD_MS (the latest, then).
  let addrsTold = 0
  let tellLater: ReturnType<typeof setTimeout> | undefined
  const tellAddrs = (): void => {
    tellLater = undefined
    addrsTold = Date.now()
    for (const l of host.directoryListeners) if (l !== onMembers) l()
  }
  const setAddrs = (next: string[]): void => {
    // Against what the other guests were last given (a feed that replaced an older one starts from its addresses).
    const known = host.guests.get(g.id)?.addrs
    const changed = known === undefined || next.join(' ') !== known.join(' ')
    addrs = next
    host.guests.set(g.id, { addrs, expires: g.admission.expires })
    if (!changed || tellLater !== undefined) return
    const wait = addrsTold + ADDRS_TOLD_MS - Date.now()
    if (wait <= 0) tellAddrs()
    else tellLater = setTimeout(tellAddrs, wait)
  }
  // Whose tabs this guest's feed counts among (a renewed admission names the same user).
  const owner = feedOwner(g)
  if (follow) {
    // One following feed per guest: a new one replaces the old.
    host.feeds.get(g.id)?.abort(new Error('replaced by a newer feed'))
    host.feeds.set(g.id, frames)
    // And at most MAX_FEEDS_PER_USER of one user's tabs: the one that opened its feed longest ago goes.
    const tabs = host.feedsByUser.get(owner) ?? new Set<string>()
    host.feedsByUser.set(owner, tabs)
    tabs.delete(g.id)
    for (const oldest of tabs) {
      if (tabs.size < MAX_FEEDS_PER_USER) break
      tabs.delete(oldest)
      host.feeds.get(oldest)?.abort(new Error(`ended: the user has ${MAX_FEEDS_PER_USER} newer tabs following this member`))
    }
    tabs.add(g.id)
    host.o.catalog.addEventListener('change', onCatalog)
    host.o.heard.addEventListener('passed', onCatalog)
    host.holdingListeners.add(onChange)
    for (const name of MEMBER_EVENTS) host.o.membership.addEventListener(name, onMembers)
    host.directoryListeners.add(onMembers)
    setAddrs(addrs)
    watch()
    host.stats.feeds++
    host.stats.feedsOpened++
  }
  const recheck = setInterval(() => {
    const checked = admission
    void gate.who(g.id, checked).then(now => { if (checked === admission) g = now }, (err: unknown) => {
      if (checked !== admission) return
      clearInterval(recheck)
      // Told why, then closed; reset if the guest does not take it.
      send({ status: 'refused', reason: err instanceof GuestRefusedError ? err.reason : 'malformed', message: String((err as Error).message) })
      const reset = setTimeout(() => { frames.abort(new Error('admission no longer valid')) }, 2000)
      void sending.then(async () => { await frames.close() }).catch(() => {}).finally(() => { clearTimeout(reset); frames.abort(new Error('admission no longer valid')) })
    })
  }, RECHECK_MS)
  try {
    send({ peers: host.peers(g.id) })
    const batch: CatalogEntry[] = []
    const snapshot: CatalogEntry[] = []
    for (const name of host.o.catalog.bucketNames()) { const e = host.o.catalog.get(name); if (e !== undefined) snapshot.push(e) }
    const byBucket = new Map<string, string[]>()
    for (const [bucket, key] of heldPairs) {
      const keys = byBucket.get(bucket)
      if (keys === undefined) byBucket.set(bucket, [key])
      else keys.push(key)
    }
    // Of buckets that exist and the guest may see, and MAX_WATCHED of them: each may be a query to its owners.
    let asked = 0
    for (const [bucket, keys] of byBucket) {
      if (!followable(bucket)) continue
      if (++asked > MAX_WATCHED) break
      snapshot.push(...await host.o.partition.entries(bucket, keys).catch(() => []))
    }
    for (const e of snapshot) {
      batch.push(e)
      if (batch.length >= FEED_BATCH) {
        send({ entries: encodeCatalogMessage(visible(batch.splice(0))) })
        await sending
      }
    }
    send({ entries: encodeCatalogMessage(visible(batch)), synced: true })
    await sending
    if (failed) return
    if (!follow) { await frames.close(); return }
    // The guest renews its admission, tells its new addresses and the buckets it follows, on the same stream; anything else ends the feed.
    for (;;) {
      const m = await frames.receive(undefined, 24 * 3600_000)
      if (m.admission === undefined && m.addrs === undefined && m.buckets === undefined) throw new DroppedMessageError('malformed', 'A feed takes only renewed admissions, addresses and followed buckets.')
      if (m.admission !== undefined) {
        g = await gate.who(g.id, m.admission)
        admission = m.admission
        // Its rights may have changed with it: the buckets it may see, so those followed.
        watch()
      }
      if (m.buckets !== undefined) { followed = followedBuckets(m.buckets); watch() }
      setAddrs(m.addrs === undefined ? addrs : host.relayed(addresses(m.addrs)))
    }
  } finally {
    clearInterval(recheck)
    // A change of addresses waiting to be told is told now (a newer feed of the guest starts from them, and tells nothing).
    if (tellLater !== undefined) { clearTimeout(tellLater); tellAddrs() }
    if (follow) {
      for (const unfollow of watched.values()) unfollow()
      host.o.catalog.removeEventListener('change', onCatalog)
      host.o.heard.removeEventListener('passed', onCatalog)
      host.holdingListeners.delete(onChange)
      for (const name of MEMBER_EVENTS) host.o.membership.removeEventListener(name, onMembers)
      host.directoryListeners.delete(onMembers)
      // Unless a newer feed of the same guest took over: its directory entry and holdings are the newer feed's.
      if (host.feeds.get(g.id) === frames) {
        host.feeds.delete(g.id)
        const tabs = host.feedsByUser.get(owner)
        tabs?.delete(g.id)
        if (tabs?.size === 0) host.feedsByUser.delete(owner)
        host.guests.delete(g.id)
        host.holdings.forget(g.id)
        for (const l of host.directoryListeners) l()
      }
      host.stats.feeds--
    }
  }
}
