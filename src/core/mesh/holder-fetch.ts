import { S3Error } from '../errors.js'
import { fanOut } from '../fan-out.js'
import type { ByteRange } from '../object-store.js'
import { readAll } from '../streams.js'
import type { CatalogEntry } from './catalog-entry.js'
import { rangePieces } from './range-transfer.js'
import type { Catalog } from './catalog.js'
import type { LocalCopies } from './local-copies.js'
import type { TransferService } from './transfer.js'
import { ContentMismatchError } from './verify-stream.js'

export interface HolderFetchOptions {
  copies: LocalCopies
  catalog: Catalog
  transfer: TransferService
  /** The holders of a version to try, best first, this member left out (a member: the live ones). */
  holders: (entry: CatalogEntry) => string[]
  /** How long one holder may take before the next is tried, ms; no limit when undefined (a guest limits other tabs). */
  deadlineMs?: (holder: string) => number | undefined
  /** A holder sent bytes that did not match the catalog (it is skipped). */
  onBadHolder: () => void
  /** A holder sent the version, now stored. */
  onFetched?: (holder: string) => void
  /** Fetches outlive the request that started them, not the member. */
  stopping: AbortSignal
}

/** How far a reader of a streamed fetch and the local copy may drift apart (bytes). */
const STREAM_LEAD_BYTES = 1024 * 1024

/**
 * Brings a version this member lacks from a live holder into the local
 * store: verified as it arrives, tried holder after holder, and one fetch
 * per version at a time however many readers and repair passes ask for it.
 */
export class HolderFetcher {
  private readonly running = new Map<string, Promise<CatalogEntry>>()

  constructor (private readonly o: HolderFetchOptions) {}

  /** Fetches in progress (for the repair queue's figures and its concurrency). */
  get inFlight (): number {
    return this.running.size
  }

  /** Resolves to the entry now held (its holders include this member). */
  async fetch (entry: CatalogEntry, signal?: AbortSignal): Promise<CatalogEntry> {
    const id = fetchId(entry)
    let running = this.running.get(id)
    if (running === undefined) {
      running = this.fromHolders(entry, signal ?? this.o.stopping).finally(() => { this.running.delete(id) })
      this.running.set(id, running)
    }
    return await running
  }

  /**
   * Fetches a version as `fetch` does, and streams its bytes to a reader as
   * they arrive: a GET through a member that lacks the object answers after
   * one round trip to a holder, not once the whole copy is on disk here. The
   * reader sees what the store does: bytes checked as they come (an error,
   * not an end, if they do not hash to the version), read at the pace of the
   * slower of the two, 1 MiB apart at most; a reader that goes away leaves
   * the copy to finish. Undefined when this version is being fetched already
   * (the reader waits for it and reads the stored copy). Rejects as `fetch`
   * when no holder could send it.
   */
  async stream (entry: CatalogEntry): Promise<ReadableStream<Uint8Array> | undefined> {
    const id = fetchId(entry)
    if (this.running.has(id)) return undefined
    return await new Promise<ReadableStream<Uint8Array> | undefined>((resolve, reject) => {
      // The copy belongs to the member, not to the request that started it.
      const running = this.fromHolders(entry, this.o.stopping, body => {
        const [reader, store] = fanOut(body, 2, { highWaterMark: STREAM_LEAD_BYTES, size: chunk => chunk.byteLength })
        resolve(reader)
        return store!
      }).finally(() => { this.running.delete(id) })
      this.running.set(id, running)
      // Settles the reader's promise if no holder answered (a tapped stream has resolved it already).
      running.then(() => { resolve(undefined) }, reject)
    })
  }

  /**
   * Reads a version from a live holder without keeping a copy here: how a
   * member that placement does not give the object serves a GET (a copy kept
   * there would be one beyond --replicas, written at every read miss, and
   * the reader would wait on this member's disk and its announcement too).
   * Holders are tried in order until one answers. A version of up to `whole`
   * bytes is read and checked before it is returned (a holder that sends bad
   * bytes is skipped for the next); a larger one is returned as it streams,
   * checked as it comes (an error, not an end, if it does not hash to the version).
   */
  async readThrough (entry: CatalogEntry, whole: number, signal: AbortSignal): Promise<Uint8Array | ReadableStream<Uint8Array>> {
    return await this.tryHolders(entry, signal, async (body, s) => entry.object!.size > whole ? body : await readAll(body, whole, s))
  }

  /**
   * Reads bytes `range.start`..`range.end` of a version with a chunk tree
   * from a live holder, keeping nothing: only the chunks that hold them
   * travel, each checked against the tree's root in the entry before any of
   * its bytes come out. Returned once the first chunk has passed (a holder
   * that sends a bad one is skipped for the next); the rest streams, and a
   * bad chunk later ends it short.
   */
  async readRange (entry: CatalogEntry, range: ByteRange, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    if (entry.object?.tree === undefined) throw new TypeError('Only a version with a chunk tree can be read by range.')
    const one = async (r: ByteRange): Promise<Primed> => await this.tryHolders(entry, signal, async body => await primed(body), r)
    // A request carries at most MAX_RANGE_CHUNKS chunks: a longer range is asked for a piece at a time, as it is read.
    const pieces = rangePieces(range.start, range.end)
    let current = await one(pieces[0]!)
    let next = 1
    let cancelled: unknown
    return new ReadableStream<Uint8Array>({
      pull: async controller => {
        for (;;) {
          const got = current.first ?? await current.reader.read()
          current.first = undefined
          if (!got.done) { controller.enqueue(got.value); return }
          if (next === pieces.length) { controller.close(); return }
          current = await one(pieces[next++]!)
          // Cancelled while the next piece was being asked for: that one is let go too.
          if (cancelled !== undefined) { await current.reader.cancel(cancelled); return }
        }
      },
      cancel: async reason => {
        cancelled = reason ?? new Error('cancelled')
        await current.reader.cancel(reason)
      },
    }, { highWaterMark: 0 })
  }

  /** Waits for the fetches in progress to end (at stop). */
  async settled (): Promise<void> {
    await Promise.allSettled(this.running.values())
  }

  /** `tap`: given the first holder's stream, returns what to store (the first holder only: a reader cannot restart). */
  private async fromHolders (entry: CatalogEntry, signal: AbortSignal, tap?: (body: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>): Promise<CatalogEntry> {
    return await this.tryHolders(entry, signal, async (body, _s, holder) => {
      if (tap !== undefined) {
        body = tap(body)
        tap = undefined
      }
      const stored = await this.o.copies.storeVersion(entry, body, { signal, checked: true })
      this.o.onFetched?.(holder)
      return stored ?? this.o.copies.slotNow(entry.bucket, entry.key!, entry.versionId)!
    })
  }

  /** Gets the version's bytes (or a range of them) from one holder after another until `use` succeeds with them; ServiceUnavailable if none did. */
  private async tryHolders<T> (entry: CatalogEntry, signal: AbortSignal, use: (body: ReadableStream<Uint8Array>, signal: AbortSignal, holder: string) => Promise<T>, range?: ByteRange): Promise<T> {
    const holders = this.o.holders(entry)
    const problems: string[] = []
    for (const holder of holders) {
      try {
        const deadline = this.o.deadlineMs?.(holder)
        const s = deadline === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(deadline)])
        const versionId = this.o.copies.localId(entry)
        const wanted = { bucket: entry.bucket, key: entry.key!, ...(versionId === undefined ? {} : { versionId }), sha256: entry.object!.sha256, size: entry.object!.size }
        const body = range === undefined
          ? await this.o.transfer.get(holder, wanted, s)
          : await this.o.transfer.getRange(holder, { ...wanted, tree: entry.object!.tree!, ...range }, s)
        return await use(body, s, holder)
      } catch (err) {
        if (err instanceof ContentMismatchError) this.o.onBadHolder()
        if (signal.aborted) throw err
        problems.push(`${holder}: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    throw new S3Error('ServiceUnavailable', holders.length === 0
      ? `No live member holds ${entry.bucket}/${entry.key!} now; try again when its holders are back.`
      : `No member holding ${entry.bucket}/${entry.key!} could send it (${problems.join('; ')}).`)
  }
}

/** A body's reader with its first read done (undefined once taken). */
interface Primed { reader: ReadableStreamDefaultReader<Uint8Array>, first: ReadableStreamReadResult<Uint8Array> | undefined }

/** Reads a body's first chunk: a holder that fails before it is thrown out here, while the next can still be tried. */
async function primed (body: ReadableStream<Uint8Array>): Promise<Primed> {
  const reader = body.getReader()
  return { reader, first: await reader.read() }
}

/** One fetch per version at a time: its bucket, key, slot and content. */
function fetchId (entry: CatalogEntry): string {
  return `${entry.bucket}\n${entry.key!}\n${entry.versionId ?? ''}\n${entry.object!.sha256}`
}
