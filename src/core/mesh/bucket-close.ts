import type { Libp2p, Stream } from '@libp2p/interface'
import { S3Error } from '../errors.js'
import { randomId } from '../ids.js'
import { answerSealed, askSealed } from '../wire/sealed-request.js'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import type { Keyring } from '../wire/keyring.js'
import { decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import { slotOf, type CatalogEntry } from './catalog-entry.js'
import type { Catalog } from './catalog.js'
import { compareVersions, type HybridClock, type Version } from './hlc.js'
import { busyOf, closedOf, Refused, type Closed, type RecentSlot } from './close-answers.js'

export const CLOSE_PROTOCOL = '/s3mesh/bucket-close/1.0.0'

/**
 * How long a member keeps a bucket closed for a delete that never said how
 * it ended (its deleter died half-way), ms. Writes to the bucket wait that
 * long at most.
 */
const HOLD_MS = 60_000

/**
 * A deleter publishes its tombstone only this long after it started closing
 * the bucket, at most, ms: every member is then still closed (for HOLD_MS
 * from when it heard) when the tombstone reaches it, even late.
 */
export const DECIDE_MS = 20_000

/** Waiting longer than this for a member's answer fails the delete (nothing is deleted), ms. */
const ASK_TIMEOUT_MS = 5_000

/**
 * A member's writes to a bucket are remembered this long, ms: long enough
 * for their announcements to have reached the bucket's owners, whose count
 * a delete asks for.
 */
const RECENT_MS = 30_000

/**
 * Distinct slots remembered per bucket at most. A member that writes more
 * within RECENT_MS forgets the oldest, and answers a delete as busy until
 * what it forgot would have been forgotten anyway.
 */
const RECENT_MAX = 100_000

/** A member's answer lists its late writes up to about this many bytes (live ones first); past it, it answers busy. */
const ANSWER_BUDGET = 2 * 1024 * 1024

/**
 * Late writes live when made that an answer looks up in the catalog at most
 * (each is a read of the catalog's table): past them, it answers busy.
 */
const MAX_LOOKUPS = 20_000

/** Deletes deciding at once on one bucket at most (more are refused: their deleter answers 503). */
const MAX_CLOSES = 16

/** Opened deletes' tokens remembered at most (the oldest are forgotten first). */
const MAX_OPENED = 10_000

/** Times a member that missed an `open` is asked again, a second apart. */
const OPEN_RETRIES = 3

interface Recent {
  /** By slot (key, then version id), oldest first. */
  slots: Map<string, { key: string, versionId: string | undefined, version: Version, live: boolean, at: number }>
  /** Slots younger than RECENT_MS were forgotten (RECENT_MAX): a delete is answered busy until then. */
  overflowUntil: number
}

export interface BucketCloserOptions {
  libp2p: Libp2p
  keyring: Keyring
  catalog: Catalog
  /** The other durable members a bucket is closed at (those whose release speaks CLOSE_PROTOCOL). */
  members: () => string[]
  /** Takes in entries another member sent (the tombstone that ends a delete), as announcements are. */
  receive: (entries: CatalogEntry[]) => void
  /** This member's clock: it takes in the members' readings of the bucket's entry, so that the tombstone it makes is newer. */
  clock: Pick<HybridClock, 'observe'>
  /**
   * Whether this member's store has multipart uploads in progress in the
   * bucket (staged where they began): they make it not empty, as a lone
   * node's store says, so that a delete through another member does not
   * leave them behind in a bucket that is gone.
   */
  uploadsIn?: (bucket: string) => Promise<boolean>
}

/** A bucket closed at every durable member for a delete: what they said, and how to open it again. */
export interface BucketClose {
  /** Whether a write is under way or was made lately that may not be counted by the owners yet (the bucket is not empty). */
  busy: boolean
  /** Whether the tombstone may still be published (DECIDE_MS since closing began). */
  inTime: () => boolean
  /** Opens the bucket everywhere; with the bucket's tombstone, which every member takes in first (its writes then find no bucket). */
  open: (tombstone?: CatalogEntry) => Promise<void>
}

/**
 * Orders a bucket's delete with the writes to it across the mesh, as S3
 * does: a PUT acknowledged is either counted by the delete (BucketNotEmpty)
 * or refused after it (NoSuchBucket); none is acknowledged into a bucket
 * that is then gone.
 *
 * The deleting member closes the bucket at every durable member first. A
 * member where it is closed holds new writes to it until it opens again,
 * and answers with the writes it has under way and those it made lately
 * (their announcements may not have reached the owners the delete counts
 * with). The deleter refuses the delete if any member is writing or a
 * slot's newest late write is live, else counts at the owners, and either
 * opens the bucket again (not empty) or publishes the tombstone and opens
 * it with the tombstone, which every member takes in before its held
 * writes go on to find no bucket.
 *
 * A member that cannot be asked fails the delete (503): it might be
 * writing. A member that runs an older release is not asked.
 */
export class BucketCloser {
  /** Buckets closed here, each by the tokens of the deletes that closed it, and the writes waiting for it to open. */
  private readonly closed = new Map<string, { tokens: Map<string, ReturnType<typeof setTimeout>>, opened: Promise<void>, open: () => void }>()
  /** Deletes' tokens opened here lately, each until when it is remembered (oldest first): a close that arrives after its open (a slow stream) closes nothing. */
  private readonly opened = new Map<string, number>()
  /** Writes under way here, per bucket. */
  private readonly writing = new Map<string, number>()
  /** Slots written here lately, per bucket. */
  private readonly recent = new Map<string, Recent>()
  private sweeper: ReturnType<typeof setInterval> | undefined
  private stopped = false

  constructor (private readonly o: BucketCloserOptions) {}

  async start (): Promise<void> {
    await this.o.libp2p.handle(CLOSE_PROTOCOL, (stream, connection) => { void this.serve(stream, connection.remotePeer.toString()) }, { runOnLimitedConnection: false })
    // Buckets no longer written are forgotten too, not only when their next write comes.
    this.sweeper = setInterval(() => { for (const bucket of [...this.recent.keys()]) this.prune(bucket, Date.now()) }, RECENT_MS)
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.sweeper)
    await this.o.libp2p.unhandle(CLOSE_PROTOCOL)
    for (const [bucket, c] of this.closed) for (const token of c.tokens.keys()) this.openHere(bucket, token)
  }

  /**
   * A write to `bucket` begins: it waits while the bucket is closed here (a
   * delete is deciding), then counts as under way until the returned
   * function is called.
   */
  async enter (bucket: string, signal?: AbortSignal): Promise<() => void> {
    for (let c = this.closed.get(bucket); c !== undefined; c = this.closed.get(bucket)) {
      await untilOrAborted(c.opened, signal)
      // Let go by a stop, not by the delete: whether the bucket is gone is not known here.
      if (this.stopped) throw new S3Error('ServiceUnavailable', 'This node is stopping. Send the request to another node.')
    }
    this.writing.set(bucket, (this.writing.get(bucket) ?? 0) + 1)
    let left = false
    return () => {
      if (left) return
      left = true
      const n = (this.writing.get(bucket) ?? 1) - 1
      if (n === 0) this.writing.delete(bucket)
      else this.writing.set(bucket, n)
    }
  }

  /**
   * Runs `write` (a change that makes a version, or one of the bucket's
   * settings) as a write under way, begun once the bucket is open here (enter).
   */
  async whileOpen<T> (bucket: string, signal: AbortSignal | undefined, write: () => Promise<T>): Promise<T> {
    const leave = await this.enter(bucket, signal)
    try {
      return await write()
    } finally {
      leave()
    }
  }

  /**
   * A change made here to an object's slot (a version, a marker, a delete,
   * a tag or lock change), or its announcement once its copies are made:
   * remembered for RECENT_MS from then, for a delete of its bucket to count.
   */
  wrote (e: CatalogEntry): void {
    if (e.key === undefined) return
    let r = this.recent.get(e.bucket)
    if (r === undefined) this.recent.set(e.bucket, r = { slots: new Map(), overflowUntil: 0 })
    const id = `${e.key}\n${slotOf(e)}`
    r.slots.delete(id)
    r.slots.set(id, { key: e.key, versionId: e.versionId, version: e.version, live: !e.deleted, at: Date.now() })
    if (r.slots.size > RECENT_MAX) {
      const [oldest, s] = r.slots.entries().next().value!
      r.slots.delete(oldest)
      r.overflowUntil = Math.max(r.overflowUntil, s.at + RECENT_MS)
    }
  }

  /** Forgets a bucket's writes older than RECENT_MS. */
  private prune (bucket: string, now: number): void {
    const r = this.recent.get(bucket)
    if (r === undefined) return
    for (const [id, s] of r.slots) {
      if (now - s.at < RECENT_MS) break
      r.slots.delete(id)
    }
    if (r.slots.size === 0 && r.overflowUntil <= now) this.recent.delete(bucket)
  }

  /** Closes `bucket` at every durable member (here first) for a delete; fails, with the bucket open again, if one cannot be asked. */
  async close (bucket: string, signal?: AbortSignal): Promise<BucketClose> {
    const token = randomId(8)
    const began = Date.now()
    const here = await this.closeHere(bucket, token)
    const peers = this.o.members()
    // A malformed answer counts as none: the delete fails, and the bucket opens again everywhere.
    const asked = await Promise.allSettled(peers.map(async peer => closedOf(await this.ask(peer, { type: 'close', bucket, token }, signal))))
    const open = async (tombstone?: CatalogEntry): Promise<void> => {
      // Here first: the tombstone, if any, is in this member's catalog already.
      this.openHere(bucket, token)
      const request = { type: 'open', bucket, token, ...(tombstone === undefined ? {} : { entries: encodeCatalogMessage([tombstone]) }) }
      const results = await Promise.allSettled(peers.map(async peer => await this.ask(peer, request)))
      // A member that missed it would hold the bucket's writes for HOLD_MS: asked again, a while yet.
      const missed = peers.filter((_, i) => results[i]!.status === 'rejected')
      if (missed.length > 0) void this.openLater(missed, request)
    }
    const failed = peers.filter((_, i) => asked[i]!.status === 'rejected')
    if (failed.length > 0) {
      await open()
      signal?.throwIfAborted()
      // A member that said why it refused (too many deletes at once, stopping) is quoted.
      const refusal = asked.find((a): a is PromiseRejectedResult => a.status === 'rejected' && a.reason instanceof Refused)
      if (refusal !== undefined) throw new S3Error('ServiceUnavailable', `The bucket is not deleted: ${(refusal.reason as Refused).message}`)
      throw new S3Error('ServiceUnavailable', `The bucket is not deleted: ${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ` and ${failed.length - 3} more` : ''} did not answer, and may be writing to it. Try again.`)
    }
    const answers = [here, ...asked.map(a => (a as PromiseFulfilledResult<Closed>).value)]
    try {
      // A member's newer change of the bucket (its clock ahead of this one's) would outlast the tombstone.
      for (const a of answers) if (a.seen !== undefined) this.o.clock.observe(a.seen)
    } catch (err) {
      await open()
      throw new S3Error('ServiceUnavailable', `The bucket is not deleted: ${err instanceof Error ? err.message : String(err)}`)
    }
    return { busy: busyOf(answers), inTime: () => Date.now() - began < DECIDE_MS, open }
  }

  /** Asks members that missed an open again, a second apart, until they answer or OPEN_RETRIES have passed. */
  private async openLater (peers: string[], request: Record<string, unknown>): Promise<void> {
    let left = peers
    for (let attempt = 0; attempt < OPEN_RETRIES && left.length > 0 && !this.stopped; attempt++) {
      await new Promise(resolve => setTimeout(resolve, 1000))
      const results = await Promise.allSettled(left.map(async peer => await this.ask(peer, request)))
      left = left.filter((_, i) => results[i]!.status === 'rejected')
    }
  }

  /** Closes `bucket` here for the delete `token`: what this member is writing to it (its uploads in progress counted as writes), and what it wrote lately. */
  private async closeHere (bucket: string, token: string): Promise<Closed> {
    const answer = this.closeNow(bucket, token)
    if (this.o.uploadsIn === undefined) return answer
    // Looked at once the bucket is closed here: an upload begun before is seen, and one begun after waits for the open.
    let uploads: boolean
    try {
      uploads = await this.o.uploadsIn(bucket)
      if (this.stopped) throw new S3Error('ServiceUnavailable', 'A member is stopping: it cannot hold writes to the bucket. Try again.')
    } catch (err) {
      // Not closed here after all: the deleter is refused (503) and its writes are not held.
      this.openHere(bucket, token)
      throw err
    }
    return uploads ? { ...answer, writing: answer.writing + 1 } : answer
  }

  private closeNow (bucket: string, token: string): Closed {
    if (this.stopped) throw new S3Error('ServiceUnavailable', 'A member is stopping: it cannot hold writes to the bucket. Try again.')
    const answer = this.answer(bucket)
    // A close after its own open (a slow stream) closes nothing: the deleter has decided.
    if ((this.opened.get(token) ?? 0) > Date.now()) return answer
    let c = this.closed.get(bucket)
    if (c === undefined) {
      let open!: () => void
      const opened = new Promise<void>(resolve => { open = resolve })
      this.closed.set(bucket, c = { tokens: new Map(), opened, open })
    }
    // The same close again does not hold the bucket longer; too many deletes at once are refused.
    if (!c.tokens.has(token)) {
      if (c.tokens.size >= MAX_CLOSES) throw new S3Error('ServiceUnavailable', `${MAX_CLOSES} deletes of this bucket are deciding already. Try again.`)
      c.tokens.set(token, setTimeout(() => { this.openHere(bucket, token) }, HOLD_MS))
    }
    return answer
  }

  /** What this member is writing to `bucket`, and its late writes as it knows them now, live ones first, within ANSWER_BUDGET. */
  private answer (bucket: string): Closed {
    const now = Date.now()
    this.prune(bucket, now)
    const r = this.recent.get(bucket)
    const live: RecentSlot[] = []
    const dead: RecentSlot[] = []
    const writing = this.writing.get(bucket) ?? 0
    const entry = this.o.catalog.get(bucket)
    const seen = entry === undefined ? {} : { seen: { ms: entry.version.ms, counter: entry.version.counter } }
    let liveBytes = 0
    let deadBytes = 0
    let lookups = 0
    for (const s of r?.slots.values() ?? []) {
      if (s.live && ++lookups > MAX_LOOKUPS) return { writing, recent: [], overflow: true, ...seen }
      // A write live when made may have been replaced or deleted since (heard of here): the newest known counts.
      const known = s.live ? this.o.catalog.slot(bucket, s.key, s.versionId) : undefined
      const newest = known !== undefined && compareVersions(known.version, s.version) > 0 ? { version: known.version, live: !known.deleted } : s
      const slot: RecentSlot = [s.key, s.versionId ?? null, newest.version.ms, newest.version.counter, newest.version.node, newest.live]
      // At most this many bytes encoded (a key's characters up to three UTF-8 bytes each, the numbers and framing in 32).
      const bytes = s.key.length * 3 + (s.versionId?.length ?? 0) + newest.version.node.length + 32
      if (newest.live) {
        live.push(slot)
        liveBytes += bytes
      } else {
        dead.push(slot)
        deadBytes += bytes
      }
    }
    const overflow = r !== undefined && r.overflowUntil > now
    if (liveBytes + deadBytes > ANSWER_BUDGET) {
      // Too many to list: the live ones alone, else busy (that many live writes are hardly all deleted elsewhere).
      if (liveBytes > ANSWER_BUDGET) return { writing, recent: [], overflow: true, ...seen }
      dead.length = 0
    }
    return { writing, recent: [...live, ...dead], ...(overflow ? { overflow } : {}), ...seen }
  }

  private openHere (bucket: string, token: string): void {
    const now = Date.now()
    for (const [old, until] of this.opened) {
      if (until > now && this.opened.size < MAX_OPENED) break
      this.opened.delete(old)
    }
    this.opened.delete(token)
    this.opened.set(token, now + HOLD_MS)
    const c = this.closed.get(bucket)
    if (c === undefined || !c.tokens.has(token)) return
    clearTimeout(c.tokens.get(token))
    c.tokens.delete(token)
    if (c.tokens.size > 0) return
    this.closed.delete(bucket)
    c.open()
  }

  private async ask (peer: string, request: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const timeout = AbortSignal.timeout(ASK_TIMEOUT_MS)
    return await askSealed(this.o.libp2p, this.o.keyring, peer, CLOSE_PROTOCOL, request, { signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]), idleTimeoutMs: ASK_TIMEOUT_MS })
  }

  private async serve (stream: Stream, from: string): Promise<void> {
    // A question is a bucket, a token and at most a bucket's tombstone.
    await answerSealed(stream, from, this.o.keyring, async r => await this.reply(r), { idleTimeoutMs: ASK_TIMEOUT_MS, firstFrameMaxBytes: 64 * 1024 })
  }

  /** A member's answer to a close or an open; throws (the stream is reset) on a malformed one. */
  private async reply (r: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { bucket, token } = r
    if (typeof bucket !== 'string' || bucket.length > 255 || typeof token !== 'string' || token.length > 64) throw new DroppedMessageError('malformed', 'A bucket close without its bucket or token.')
    if (r.type === 'close') {
      try {
        return { type: 'closed', ...await this.closeHere(bucket, token) }
      } catch (err) {
        if (!(err instanceof S3Error)) throw err
        return { type: 'refused', reason: err.message }
      }
    }
    if (r.type !== 'open') throw new DroppedMessageError('malformed', 'Neither a close nor an open.')
    try {
      if (r.entries !== undefined) {
        if (!(r.entries instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'An open whose entries are not a catalog message.')
        // Only the bucket's own entry: the tombstone that ended the delete.
        this.o.receive(decodeCatalogMessage(r.entries).entries.filter(e => e.bucket === bucket && e.key === undefined))
      }
    } finally {
      // Opened even so: the tombstone also comes by gossip, and holding every write for HOLD_MS helps nobody.
      this.openHere(bucket, token)
    }
    return { type: 'opened' }
  }
}

/** Resolves with `p`, or rejects when `signal` aborts first. */
async function untilOrAborted (p: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return await p
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const aborted = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', aborted, { once: true })
    void p.then(() => { signal.removeEventListener('abort', aborted); resolve() })
  })
}
