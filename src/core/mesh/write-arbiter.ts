import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { S3Error } from '../errors.js'
import { randomId } from '../ids.js'
import { checkWriteCondition, type WriteCondition } from '../object-store.js'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import type { Keyring } from '../wire/keyring.js'
import { openStream } from '../wire/open-stream.js'
import { PeerIdleError, SealedFrames, StreamEndedError } from '../wire/sealed-frames.js'
import { createdOf, type CatalogEntry } from './catalog-entry.js'
import { compareVersions, type Version } from './hlc.js'
import { KeptStreams } from './kept-streams.js'
import { FIRST_FRAMES } from '../wire/held-bytes.js'

/** Conditional writes asked of a bucket's arbiter: sealed with the cluster key. */
export const ARBITER_PROTOCOL = '/s3mesh/write-arbiter/1.0.0'

/** How long a conditional write holds its key before another may take it (a writer that died lets go then). */
export const DEFAULT_LEASE_MS = 30_000

/** How long the arbiter remembers a conditional write it let commit, for the catalog to hear of it meanwhile. */
const REMEMBER_MS = 5 * 60_000

/** How long the arbiter keeps a stream open for the next question, and an asker keeps it (less, so it never uses one the arbiter dropped). */
const STREAM_IDLE_MS = 10_000

export interface WriteArbiterOptions {
  libp2p: Libp2p
  keyring: Keyring
  self: string
  /** The member that orders a bucket's conditional writes: its leading catalog owner, the same on every member that sees the same members. */
  arbiterOf: (bucket: string) => string | undefined
  /** A key's newest entry as the catalog's owners know it (tombstones included). */
  current: (bucket: string, key: string, signal?: AbortSignal) => Promise<CatalogEntry | undefined>
  /** The entry of one of a key's slots (`''`: the null one) in this member's catalog, tombstones included. */
  slot?: (bucket: string, key: string, slot: string) => CatalogEntry | undefined
  leaseMs?: number
  timeoutMs?: number
  now?: () => number
}

/** A conditional write's hold on its key, given by the arbiter. */
export interface WriteLease {
  /** Asks the arbiter again, as the write commits: the condition still holds (412 or 404 if not) and the key is still this write's (409 if another took it). */
  confirm: (signal?: AbortSignal) => Promise<void>
  /**
   * Lets the key go: with the version written and the slot it went into
   * (`''`: the null one), which the arbiter holds later conditions to
   * (without `etag`: a delete marker or a delete, after which the key has no
   * object), or with none (the write failed).
   */
  release: (written?: { etag?: string, version: Version, slot: string }) => Promise<void>
}

/**
 * Why an arbiter refuses: the condition (412, 404), another write's hold
 * (409), or its office: it is not the bucket's arbiter by its own view of
 * the members (`not-arbiter`), or became it less than a lease ago and waits
 * out the holds its predecessor may have given (`appointed`); both 503.
 */
type Refusal = 'PreconditionFailed' | 'NoSuchKey' | 'ConditionalRequestConflict' | 'not-arbiter' | 'appointed'

/**
 * Conditional writes (If-None-Match: *, If-Match) across the mesh: of two
 * members racing to create a key, exactly one may win, so both ask the one
 * member that orders the bucket's conditional writes (its arbiter). The
 * arbiter checks the condition against the newest entry it knows, and the
 * writes it let commit since, and gives the key to one write at a time: a
 * second conditional write of the key meanwhile is refused with 409
 * ConditionalRequestConflict, as S3 does. A write asks once before its body
 * (a failed condition is answered before the bytes are sent) and again as it
 * commits. Unconditional writes ask no one: the last writer wins, as in S3.
 * A conditional delete (If-Match) asks as a write does, and leaves the key
 * with no object. When the arbiter cannot be reached, conditional writes
 * answer 503 rather than risk two winners.
 */
export class WriteArbiter {
  /** Keys held by a conditional write in progress: its token and when the hold ends. */
  private readonly held = new Map<string, { token: string, until: number }>()
  /** Conditional writes let commit here, until the catalog surely has them (no `etag`: a conditional delete). */
  private readonly written = new Map<string, { etag?: string, version: Version, slot?: string, at: number }>()
  /** When forgetOld last walked the maps. */
  private swept = 0
  private readonly leaseMs: number
  private readonly timeoutMs: number
  private readonly now: () => number
  /** Streams to arbiters kept for the next question: a new one costs a protocol round trip, three times a write. */
  private readonly kept = new KeptStreams(STREAM_IDLE_MS / 2)
  /** Streams this member answers on, waiting for their next question: closed when it stops. */
  private readonly serving = new Set<SealedFrames>()
  /** Each bucket's arbiter as this member last saw it (buckets it has seen questions for, or a change of members). */
  private readonly seen = new Map<string, string | undefined>()
  /** Buckets whose arbiter this member became, at a change of members, and when. */
  private readonly appointed = new Map<string, number>()

  constructor (private readonly o: WriteArbiterOptions) {
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS
    this.timeoutMs = o.timeoutMs ?? 10_000
    this.now = o.now ?? Date.now
  }

  /**
   * The members changed: a bucket whose arbiter this member has become (it
   * was another) takes no new hold for a lease's length, since the one before
   * may have given holds this member cannot know of; and that one, no longer
   * the arbiter by its own view, confirms none of them (see answer).
   */
  membersChanged (buckets: Iterable<string>): void {
    const now = this.now()
    for (const b of buckets) {
      const arbiter = this.o.arbiterOf(b)
      const before = this.seen.get(b)
      if (arbiter === this.o.self && before !== undefined && before !== this.o.self) this.appointed.set(b, now)
      this.seen.set(b, arbiter)
    }
  }

  async start (): Promise<void> {
    await this.o.libp2p.handle(ARBITER_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    this.kept.stop()
    for (const frames of this.serving) frames.abort(new Error('This member is stopping.'))
    await this.o.libp2p.unhandle(ARBITER_PROTOCOL)
  }

  /**
   * Asks the bucket's arbiter whether a conditional write of (bucket, key)
   * may go ahead: resolves with the key's lease, or throws what S3 answers
   * (412, 404 for If-Match on no object, 409 while another conditional write
   * of the key is under way, 503 when the arbiter cannot be asked).
   */
  async acquire (bucket: string, key: string, condition: WriteCondition, signal?: AbortSignal): Promise<WriteLease> {
    const arbiter = this.o.arbiterOf(bucket)
    if (arbiter === undefined) throw new S3Error('ServiceUnavailable', 'No member orders this bucket\'s conditional writes yet; try again.')
    if (!this.seen.has(bucket)) this.seen.set(bucket, arbiter)
    const ask = async (request: Record<string, unknown>, s?: AbortSignal): Promise<Record<string, unknown>> =>
      arbiter === this.o.self ? await this.answer(request, s) : await this.ask(arbiter, request, s)
    // The asker names its hold, so asking twice (a kept stream that broke after the arbiter took the question) is asking once.
    const token = randomId()
    const question = { op: 'acquire', bucket, key, token, ...(condition.ifNoneMatch === undefined ? {} : { ifNoneMatch: condition.ifNoneMatch }), ...(condition.ifMatch === undefined ? {} : { ifMatch: condition.ifMatch }) }
    refusedOr(await ask(question, signal), key)
    return {
      confirm: async s => { refusedOr(await ask(question, s), key) },
      release: async written => {
        // A delete is told as `gone`: an arbiter of the release before, which knows no such thing, takes it as a release without a version.
        const told = written === undefined ? {} : { ...(written.etag === undefined ? { gone: true } : { etag: written.etag }), version: written.version, slot: written.slot }
        await ask({ op: 'release', bucket, key, token, ...told }, AbortSignal.timeout(this.timeoutMs)).catch(() => {
          // Not heard: the hold ends with its lease.
        })
      },
    }
  }

  /** The arbiter's side: decides on an acquire (a new hold, or the holder's confirmation) and takes a release. */
  private async answer (r: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { bucket, key, token } = r
    if (typeof bucket !== 'string' || typeof key !== 'string' || typeof token !== 'string' || token.length > 64) throw new DroppedMessageError('malformed', 'An arbiter question without its key or token.')
    const id = `${bucket}\n${key}`
    const now = this.now()
    this.forgetOld(now)
    const hold = this.held.get(id)
    const mine = hold !== undefined && hold.token === token
    if (r.op === 'release') {
      if (mine) this.held.delete(id)
      // Kept even when the hold had passed to another write meanwhile: this version was written all the same.
      const { etag, version } = r
      const known = this.written.get(id)
      if ((typeof etag === 'string' || r.gone === true) && isVersion(version) && (known === undefined || compareVersions(version, known.version) > 0)) {
        this.written.delete(id)
        this.written.set(id, { ...(typeof etag === 'string' ? { etag } : {}), version, ...(typeof r.slot === 'string' ? { slot: r.slot } : {}), at: now })
      }
      return { status: 'ok' }
    }
    if (r.op !== 'acquire') throw new DroppedMessageError('malformed', 'Unknown arbiter question.')
    // Only the bucket's arbiter by this member's own view decides (a confirmation included): two members never both grant.
    if (this.o.arbiterOf(bucket) !== this.o.self) return { status: 'refused', code: 'not-arbiter' }
    if (!this.seen.has(bucket)) this.seen.set(bucket, this.o.self)
    const since = this.appointed.get(bucket)
    if (since !== undefined && now - since < this.leaseMs && !mine) return { status: 'refused', code: 'appointed' }
    if (hold !== undefined && !mine && hold.until > now) return { status: 'refused', code: 'ConditionalRequestConflict' }
    const condition: WriteCondition = {
      ...(r.ifNoneMatch === '*' ? { ifNoneMatch: '*' as const } : {}),
      ...(typeof r.ifMatch === 'string' ? { ifMatch: r.ifMatch } : {}),
    }
    const entry = await this.o.current(bucket, key, signal)
    // Decided after the wait: another question may have taken the key meanwhile.
    const again = this.held.get(id)
    if (again !== undefined && again.token !== token && again.until > this.now()) return { status: 'refused', code: 'ConditionalRequestConflict' }
    // The newer of the catalog's entry (a tombstone: no object) and the last conditional write let commit here, unless
    // that write's slot has changed since (a version deleted by its id, a marker among them: the one before is current).
    let known = this.written.get(id)
    const inSlot = known?.slot === undefined ? undefined : this.o.slot?.(bucket, key, known.slot)
    if (known !== undefined && inSlot !== undefined && compareVersions(inSlot.version, known.version) > 0) {
      this.written.delete(id)
      known = undefined
    }
    const fromCatalog = entry === undefined ? undefined : { object: entry.deleted ? undefined : entry.object }
    // In the merge's order (compareSlotAge): a write is its own `created`; a tag edit of an older version is not newer than it.
    const newest = known !== undefined && (entry === undefined || (compareVersions(known.version, createdOf(entry)) || compareVersions(known.version, entry.version)) > 0)
      ? { object: known.etag === undefined ? undefined : { etag: known.etag } }
      : fromCatalog
    try {
      checkWriteCondition(condition, newest?.object, key)
    } catch (err) {
      if (err instanceof S3Error && (err.code === 'PreconditionFailed' || err.code === 'NoSuchKey')) return { status: 'refused', code: err.code }
      throw err
    }
    this.held.set(id, { token, until: this.now() + this.leaseMs })
    return { status: 'ok' }
  }

  /** Drops what has passed, at most once a second (a question must not cost a walk through every key). */
  private forgetOld (now: number): void {
    if (now - this.swept < 1000) return
    this.swept = now
    // Both maps are in the order their entries were set (each set after a delete), so the oldest come first.
    for (const [id, w] of this.written) { if (now - w.at <= REMEMBER_MS) break; this.written.delete(id) }
    for (const [id, h] of this.held) if (h.until <= now) this.held.delete(id)
  }

  /** Asks `peer` on a kept stream if there is one (a new one if that fails: the arbiter may have dropped it), else on a new one. */
  private async ask (peer: string, request: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const s = AbortSignal.any([signal ?? AbortSignal.timeout(this.timeoutMs), AbortSignal.timeout(this.timeoutMs)])
    for (let attempt = 0; ; attempt++) {
      const pooled = attempt === 0 ? this.kept.take(peer) : undefined
      let frames = pooled
      try {
        frames ??= new SealedFrames(await openStream(this.o.libp2p, peer, ARBITER_PROTOCOL, s), this.o.keyring, { idleTimeoutMs: this.timeoutMs })
        await frames.send(request, s)
        const a = await frames.receive(s)
        this.kept.keep(peer, frames)
        return a
      } catch (err) {
        frames?.abort(err instanceof Error ? err : new Error(String(err)))
        if (signal?.aborted === true) throw err
        if (pooled !== undefined) continue
        throw new S3Error('ServiceUnavailable', `The member that orders conditional writes to this bucket (${peer}) did not answer; try again.`, { cause: err })
      }
    }
  }

  /** Answers questions on a stream one after another, until the asker closes it or it has been idle for STREAM_IDLE_MS. */
  private async serve (stream: Stream, connection: Connection): Promise<void> {
    // A question is a key, a token and the request's If-Match or If-None-Match: well under 64 KiB.
    const frames = new SealedFrames(stream, this.o.keyring, { idleTimeoutMs: STREAM_IDLE_MS, firstFrameMaxBytes: 64 * 1024, firstFrames: FIRST_FRAMES.for(connection.remotePeer.toString()) })
    this.serving.add(frames)
    try {
      for (;;) {
        const r = await frames.receive()
        await frames.send(await this.answer(r))
      }
    } catch (err) {
      if (err instanceof StreamEndedError || err instanceof PeerIdleError) await frames.close().catch(() => {})
      else frames.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.serving.delete(frames)
    }
  }
}

function isVersion (v: unknown): v is Version {
  const x = v as Version
  return typeof v === 'object' && v !== null && Number.isSafeInteger(x.ms) && Number.isSafeInteger(x.counter) && typeof x.node === 'string'
}

/** Returns if an answer lets the write go ahead; else throws the S3 error it refuses with. */
function refusedOr (a: Record<string, unknown>, key: string): void {
  if (a.status === 'ok') return
  const code = a.code as Refusal | undefined
  if (code === 'NoSuchKey') throw new S3Error('NoSuchKey', undefined, { resource: key, detail: { Key: key } })
  if (code === 'PreconditionFailed') throw new S3Error('PreconditionFailed', undefined, { detail: { Condition: 'If-None-Match or If-Match' } })
  if (code === 'ConditionalRequestConflict') throw new S3Error('ConditionalRequestConflict')
  if (code === 'not-arbiter' || code === 'appointed') throw new S3Error('ServiceUnavailable', 'The member that orders conditional writes to this bucket is changing; try again shortly.')
  throw new DroppedMessageError('malformed', 'An arbiter answer that neither lets the write go ahead nor refuses it.')
}
