import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import type { Keyring } from '../wire/keyring.js'
import { decodeCatalogMessage, encodeCatalogMessage } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'
import { DIGEST_RANGES, type Catalog, type Digest } from './catalog.js'
import { SealedFrames } from '../wire/sealed-frames.js'
import { openStream } from '../wire/open-stream.js'
import { FIRST_FRAMES } from '../wire/held-bytes.js'

export const SYNC_PROTOCOL = '/s3mesh/catalog-sync/1.0.0'

/** Entries per message when ranges are exchanged. */
const ENTRIES_PER_MESSAGE = 2000
/** Buckets per digest list: a bound on what a peer may make us compare. */
const MAX_BUCKETS = 100_000

export interface SyncStats {
  /** Exchanges started and answered. */
  rounds: number
  served: number
  /** Buckets and ranges found to differ, entries sent and received. */
  bucketsDiffering: number
  rangesDiffering: number
  entriesSent: number
  entriesReceived: number
  failures: number
}

/** A bucket's digest: its name, the digest's two halves, and 1 when it covers every entry (0: the bucket's own entry only). */
type Row = [string, number, number, number]

/**
 * Anti-entropy for the catalog, as push-pull is for membership: two members
 * compare a digest per bucket, then per key range of the buckets that differ,
 * and exchange the entries of the ranges that differ, both ways. Whatever
 * gossip missed is repaired, and a new or returning member is brought up to
 * date without anyone re-sending what the other already has.
 *
 *   A: digests [bucket, d]...   B: ranges [bucket, d0..d64]... (differing buckets)
 *   A: entries of A's differing ranges, then `want` those ranges
 *   B: entries of B's side of them, then `done`
 */
export class AntiEntropy {
  readonly stats: SyncStats = { rounds: 0, served: 0, bucketsDiffering: 0, rangesDiffering: 0, entriesSent: 0, entriesReceived: 0, failures: 0 }

  constructor (
    private readonly libp2p: Libp2p,
    private readonly keyring: Keyring,
    private readonly catalog: Catalog,
    private readonly onEntries: (from: string, entries: CatalogEntry[]) => void,
    private readonly timeoutMs = 30_000,
    /**
     * Whether this member and `peer` both keep every entry of a bucket (both
     * own its part of a partitioned catalog): those buckets are compared
     * whole; of the others, only the bucket's own entry (every member has it).
     */
    private readonly shares: (peer: string, bucket: string) => boolean = () => true,
  ) {}

  /** The digest compared for a bucket with `peer`: the whole bucket's, or its own entry's. */
  private digestFor (peer: string, bucket: string): { whole: boolean, d: Digest } {
    const whole = this.shares(peer, bucket)
    return { whole, d: whole ? this.catalog.digest(bucket) : this.catalog.rangeDigests(bucket)[DIGEST_RANGES]! }
  }

  async start (): Promise<void> {
    await this.libp2p.handle(SYNC_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    await this.libp2p.unhandle(SYNC_PROTOCOL)
  }

  /** One exchange with `peer`; resolves when both sides have each other's differing entries. */
  async syncWith (peer: string, signal: AbortSignal): Promise<void> {
    const s = AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
    this.stats.rounds++
    const stream = await openStream(this.libp2p, peer, SYNC_PROTOCOL, s)
    const frames = new SealedFrames(stream, this.keyring)
    try {
      await frames.send({ op: 'digests', buckets: this.catalog.bucketNames().map(b => { const { whole, d } = this.digestFor(peer, b); return row(b, d, whole) }) }, s)
      const answer = await frames.receive(s)
      const theirs = rangeRows(answer)
      const want: Array<[string, number[]]> = []
      for (const [bucket, ranges] of theirs) {
        const mine = this.catalog.rangeDigests(bucket)
        const whole = this.shares(peer, bucket)
        const differing = ranges.flatMap((d, i) => (whole || i === DIGEST_RANGES) && (d.a !== mine[i]!.a || d.b !== mine[i]!.b) ? [i] : [])
        if (differing.length > 0) want.push([bucket, differing])
      }
      this.stats.bucketsDiffering += want.length
      this.stats.rangesDiffering += want.reduce((n, [, r]) => n + r.length, 0)
      await this.sendEntries(frames, want, s)
      await frames.send({ op: 'want', ranges: want }, s)
      await this.receiveEntries(frames, peer, s)
      await frames.close()
    } catch (err) {
      this.stats.failures++
      frames.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const frames = new SealedFrames(stream, this.keyring, { firstFrames: FIRST_FRAMES.for(from) })
    const s = AbortSignal.timeout(this.timeoutMs)
    try {
      const request = await frames.receive(s)
      if (request.op !== 'digests' || !Array.isArray(request.buckets) || request.buckets.length > MAX_BUCKETS) throw new DroppedMessageError('malformed', 'Expected bucket digests.')
      const theirs = new Map<string, Digest & { whole: boolean }>()
      for (const r of request.buckets) {
        if (!isRow(r)) throw new DroppedMessageError('malformed', 'A malformed bucket digest.')
        theirs.set(r[0], { a: r[1], b: r[2], whole: r[3] === 1 })
      }
      const names = new Set([...theirs.keys(), ...this.catalog.bucketNames()])
      const differing = [...names].filter(b => {
        const other = theirs.get(b)
        const { whole, d: mine } = this.digestFor(from, b)
        // Seen differently by the two (a membership change in flight): its ranges are sent, and the asker compares what it shares.
        if (other !== undefined && other.whole !== whole) return true
        return mine.a !== (other?.a ?? 0) || mine.b !== (other?.b ?? 0)
      })
      await frames.send({ op: 'ranges', buckets: differing.map(b => [b, this.catalog.rangeDigests(b).flatMap(d => [d.a, d.b])]) }, s)
      await this.receiveEntries(frames, from, s)
      const want = await frames.receive(s)
      if (want.op !== 'want' || !Array.isArray(want.ranges)) throw new DroppedMessageError('malformed', 'Expected the ranges wanted.')
      const ranges: Array<[string, number[]]> = []
      for (const r of want.ranges) {
        if (!Array.isArray(r) || typeof r[0] !== 'string' || !Array.isArray(r[1]) || !r[1].every((i: unknown) => Number.isInteger(i) && (i as number) >= 0 && (i as number) <= DIGEST_RANGES)) throw new DroppedMessageError('malformed', 'A malformed range list.')
        ranges.push([r[0], r[1] as number[]])
      }
      await this.sendEntries(frames, ranges, s)
      this.stats.served++
      await frames.close()
    } catch (err) {
      this.stats.failures++
      frames.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private async sendEntries (frames: SealedFrames, ranges: Array<[string, number[]]>, signal: AbortSignal): Promise<void> {
    let batch: CatalogEntry[] = []
    const send = async (): Promise<void> => {
      if (batch.length === 0) return
      await frames.send({ op: 'entries', data: encodeCatalogMessage(batch) }, signal)
      this.stats.entriesSent += batch.length
      batch = []
    }
    for (const [bucket, rs] of ranges) {
      for (const r of rs) {
        for (const e of this.catalog.rangeEntries(bucket, r)) {
          batch.push(e)
          if (batch.length >= ENTRIES_PER_MESSAGE) await send()
        }
      }
    }
    await send()
    await frames.send({ op: 'done' }, signal)
  }

  /** Applies `entries` messages until `done`. */
  private async receiveEntries (frames: SealedFrames, from: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const m = await frames.receive(signal)
      if (m.op === 'done') return
      if (m.op !== 'entries' || !(m.data instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'Expected catalog entries.')
      const { entries } = decodeCatalogMessage(m.data)
      this.stats.entriesReceived += entries.length
      this.onEntries(from, entries)
    }
  }
}

function row (bucket: string, d: Digest, whole: boolean): Row {
  return [bucket, d.a, d.b, whole ? 1 : 0]
}

function isRow (r: unknown): r is Row {
  return Array.isArray(r) && r.length === 4 && typeof r[0] === 'string' && r[0].length <= 63 && isUint32(r[1]) && isUint32(r[2]) && (r[3] === 0 || r[3] === 1)
}

function isUint32 (x: unknown): x is number {
  return Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff
}

function rangeRows (m: Record<string, unknown>): Array<[string, Digest[]]> {
  if (m.op !== 'ranges' || !Array.isArray(m.buckets) || m.buckets.length > MAX_BUCKETS) throw new DroppedMessageError('malformed', 'Expected range digests.')
  return m.buckets.map((b: unknown) => {
    if (!Array.isArray(b) || typeof b[0] !== 'string' || !Array.isArray(b[1]) || b[1].length !== 2 * (DIGEST_RANGES + 1) || !b[1].every(isUint32)) throw new DroppedMessageError('malformed', 'Malformed range digests.')
    const flat = b[1] as number[]
    return [b[0], Array.from({ length: DIGEST_RANGES + 1 }, (_, i) => ({ a: flat[2 * i]!, b: flat[2 * i + 1]! }))]
  })
}
