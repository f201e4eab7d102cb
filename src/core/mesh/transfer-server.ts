import type { Connection, Stream } from '@libp2p/interface'
import { DroppedMessageError } from '../wire/strict-cbor.js'
import { decodeCatalogMessage, decodeWriteHead } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'
import { PeerIdleError, SealedFrames, StreamEndedError, type FrameSeal } from '../wire/sealed-frames.js'
import { chunkBytes, parseRangeRequest, rangeAnswer, requestedVersion, ServedTrees, UnusableCopyError } from './range-transfer.js'
import type { TransferHost, TransferOptions, TransferStats } from './transfer.js'
import { FIRST_FRAMES } from '../wire/held-bytes.js'

/** Data chunk size on the wire: large enough to amortise framing, well inside yamux's flow-control credit. */
const CHUNK_BYTES = 256 * 1024
/** A member's largest request: a push's entry (a 1 KiB key, 2 KiB of metadata, tags, up to 10,000 part sizes, at most 256 holders) is under 160 KiB. */
export const MEMBER_REQUEST_MAX_BYTES = 256 * 1024

/**
 * The holder's and the replica's side of the transfer protocol (transfer.ts
 * is the asking side): reads each request on a stream a peer opened,
 * decides it, and serves a copy or a range of it, or stores what is pushed.
 */
export class TransferServer {
  constructor (
    private readonly keyring: FrameSeal,
    private readonly host: TransferHost,
    private readonly options: TransferOptions,
    private readonly stats: TransferStats,
    /** The chunk trees of what this member has served ranges of. */
    private readonly trees: ServedTrees,
  ) {}

  /** Answers the requests on one stream: one, or one push after another while the pusher keeps the stream. */
  async serve (stream: Stream, connection: Connection): Promise<void> {
    const frames = new SealedFrames(stream, this.keyring, { idleTimeoutMs: this.options.idleTimeoutMs, firstFrameMaxBytes: this.options.firstRequestMaxBytes ?? MEMBER_REQUEST_MAX_BYTES, firstFrames: FIRST_FRAMES.for(connection.remotePeer.toString()) })
    const from = connection.remotePeer.toString()
    const done = new AbortController()
    stream.addEventListener('close', () => { done.abort() })
    while (await this.serveOne(frames, from, done.signal));
  }

  /** Reads and answers one request; resolves to whether the stream stays open for another. */
  private async serveOne (frames: SealedFrames, from: string, signal: AbortSignal): Promise<boolean> {
    let request: Record<string, unknown>
    try {
      request = await frames.receive()
    } catch (err) {
      // A spare or kept stream the other side closed unused (or left idle too long): nothing was asked, nothing refused.
      if (err instanceof StreamEndedError || err instanceof PeerIdleError) { await frames.close().catch(() => {}); return false }
      this.stats.refused++
      frames.abort(err instanceof Error ? err : new Error(String(err)))
      return false
    }
    try {
      if (this.options.authorize !== undefined) {
        try {
          await this.options.authorize(from, request, signal)
        } catch (err) {
          // Told, not just reset: a guest learns it was refused (and why), as an S3 client would.
          this.stats.refused++
          await frames.send({ status: 'denied', message: err instanceof Error ? err.message : String(err) }).catch(() => {})
          await frames.close().catch(() => {})
          return false
        }
      }
      if (request.op === 'get') return await this.serveGet(frames, request, signal)
      if (request.op === 'range') return await this.serveRange(frames, request, signal)
      if (request.op === 'push') return await this.servePush(frames, from, request, signal)
      if (request.op === 'put') return await this.servePut(frames, from, request, signal)
      throw new DroppedMessageError('malformed', 'Unknown transfer operation.')
    } catch (err) {
      // Whoever cannot seal for this cluster, or sends nonsense, gets nothing.
      this.stats.refused++
      frames.abort(err instanceof Error ? err : new Error(String(err)))
      return false
    }
  }

  /** Sends a local copy; resolves to whether the stream stays open for the reader's next request (it asked, and all went well). */
  private async serveGet (frames: SealedFrames, r: Record<string, unknown>, signal: AbortSignal): Promise<boolean> {
    if (typeof r.bucket !== 'string' || typeof r.key !== 'string' || typeof r.sha256 !== 'string' || !Number.isSafeInteger(r.offset) || (r.offset as number) < 0) {
      throw new DroppedMessageError('malformed', 'A malformed get request.')
    }
    const versionId = requestedVersion(r)
    const handle = await this.host.openLocal(r.bucket, r.key, r.sha256, signal, versionId)
    if (handle === undefined) {
      this.host.onMissing?.(r.bucket, r.key, r.sha256, versionId)
      await frames.send({ status: 'not-found', message: 'this member does not hold that content' })
      await frames.close()
      return false
    }
    const offset = r.offset as number
    if (offset > handle.info.size) {
      await handle.close()
      await frames.send({ status: 'bad-range', message: `offset ${offset} is past the end (${handle.info.size})` })
      await frames.close()
      return false
    }
    const keep = r.keep === true
    await frames.send({ status: 'ok', size: handle.info.size, ...(keep ? { kept: true } : {}) })
    const body = handle.info.size === offset ? undefined : handle.stream({ start: offset, end: handle.info.size - 1 })
    if (body === undefined) await handle.close()
    await sendBody(frames, body, this.stats)
    this.stats.served++
    // The reader checked what we sent: bad bytes mean our copy rotted on disk. Only a verdict on the whole copy counts
    // (a resumed read's covers bytes from another holder too; an empty one, none of ours), and the copy is read again first.
    const verdict = await frames.receive().catch(() => undefined)
    if (verdict?.op === 'verdict' && verdict.ok === false && offset === 0 && handle.info.size > 0) this.host.onCorrupt(r.bucket as string, r.key as string, r.sha256 as string, versionId)
    if (keep && verdict?.op === 'verdict' && verdict.ok === true) return true
    await frames.close()
    return false
  }

  /** Sends the chunks holding a range, with the tree hashes that check them (getRange); resolves as serveGet does. */
  private async serveRange (frames: SealedFrames, r: Record<string, unknown>, signal: AbortSignal): Promise<boolean> {
    const q = parseRangeRequest(r)
    const refuse = async (status: string, message: string): Promise<false> => {
      await frames.send({ status, message })
      await frames.close()
      return false
    }
    let answer: Record<string, unknown>
    try {
      const tree = await this.trees.tree(q.sha256, q.tree, async () => await this.host.openLocal(q.bucket, q.key, q.sha256, signal, q.versionId))
      if (q.last >= tree.leaves.length) return await refuse('bad-range', `chunk ${q.last} is past the end (${tree.leaves.length} chunks)`)
      answer = rangeAnswer(tree, q.first, q.last)
    } catch (err) {
      if (!(err instanceof UnusableCopyError)) throw err
      if (err.rotten) this.host.onCorrupt(q.bucket, q.key, q.sha256, q.versionId)
      else this.host.onMissing?.(q.bucket, q.key, q.sha256, q.versionId)
      return await refuse('not-found', err.message)
    }
    const handle = await this.host.openLocal(q.bucket, q.key, q.sha256, signal, q.versionId)
    if (handle === undefined) {
      this.host.onMissing?.(q.bucket, q.key, q.sha256, q.versionId)
      return await refuse('not-found', 'this member does not hold that content')
    }
    const keep = r.keep === true
    await frames.send({ ...answer, ...(keep ? { kept: true } : {}) })
    await sendBody(frames, handle.stream(chunkBytes(q.first, q.last, handle.info.size)), this.stats)
    this.stats.served++
    const verdict = await frames.receive().catch(() => undefined)
    // Only a reader that found a chunk bad says so; one that went away (a download cancelled) says nothing, and the tree stays.
    if (verdict?.op === 'verdict' && verdict.ok === false) this.trees.forget(q.sha256, q.tree)
    const good = verdict?.op === 'verdict' && verdict.ok === true
    if (keep && good) return true
    await frames.close()
    return false
  }

  /** A write streamed as it is made: the head, the bytes, then the version (pushStream). */
  private async servePut (frames: SealedFrames, from: string, r: Record<string, unknown>, signal: AbortSignal): Promise<boolean> {
    if (!(r.head instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'A put without its head.')
    const head = decodeWriteHead(r.head)
    let resolveEntry!: (entry: CatalogEntry) => void
    let rejectEntry!: (err: Error) => void
    const committed = new Promise<CatalogEntry>((resolve, reject) => { resolveEntry = resolve; rejectEntry = reject })
    void committed.catch(() => {})
    const body = new ReadableStream<Uint8Array>({
      pull: async controller => {
        try {
          const pieces = await frames.receiveData()
          if (pieces !== undefined) {
            for (const p of pieces) {
              this.stats.bytesReceived += p.byteLength
              controller.enqueue(p)
            }
            return
          }
          // The bytes have ended; the writer sends their version once its own copy is committed. The body ends now,
          // so that the store makes the bytes durable while the version is on its way.
          controller.close()
          void frames.receive(undefined, this.options.idleTimeoutMs * 6).then(commit => {
            if (commit.op !== 'commit' || !(commit.entry instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'Expected the write\'s version.')
            const entries = decodeCatalogMessage(commit.entry).entries
            if (entries.length !== 1 || entries[0]!.deleted || entries[0]!.marker === true) throw new DroppedMessageError('malformed', 'A commit of something that is not one object version.')
            resolveEntry(entries[0]!)
          }).catch((err: unknown) => { rejectEntry(err instanceof Error ? err : new Error(String(err))) })
        } catch (err) {
          rejectEntry(err as Error)
          throw err
        }
      },
      cancel: reason => { rejectEntry(reason instanceof Error ? reason : new Error('cancelled')) },
    }, { highWaterMark: 0 })
    // Everything the put sent has been read once the store is done (it reads to the version): the stream can carry the next one.
    return await this.answerStore(frames, async () => { await this.host.acceptStreamed(from, head, body, async () => await committed, signal) }, r.keep === true)
  }

  private async servePush (frames: SealedFrames, from: string, r: Record<string, unknown>, signal: AbortSignal): Promise<boolean> {
    if (!(r.entry instanceof Uint8Array)) throw new DroppedMessageError('malformed', 'A push without its entry.')
    const entries = decodeCatalogMessage(r.entry).entries
    const entry = entries[0]
    if (entries.length !== 1 || entry === undefined || entry.key === undefined || entry.deleted || entry.marker === true || entry.object === undefined) throw new DroppedMessageError('malformed', 'A push of something that is not one object version.')
    const body = new ReadableStream<Uint8Array>({
      pull: async controller => {
        const pieces = await frames.receiveData()
        if (pieces === undefined) { controller.close(); return }
        for (const p of pieces) {
          this.stats.bytesReceived += p.byteLength
          controller.enqueue(p)
        }
      },
    }, { highWaterMark: 0 })
    return await this.answerStore(frames, async () => { await this.host.accept(from, entry, body, signal) }, false)
  }

  /**
   * Stores what a peer pushed and tells it the outcome: "stored" once
   * durable, or "refused" and why. With `keep` (the pusher asked), a stored
   * answer says `kept` and the stream stays open for the pusher's next
   * request; resolves to whether it did.
   */
  private async answerStore (frames: SealedFrames, store: () => Promise<void>, keep: boolean): Promise<boolean> {
    try {
      await store()
    } catch (err) {
      await frames.send({ status: 'refused', message: err instanceof Error ? err.message : String(err) }).catch(() => {})
      await frames.close()
      this.stats.refused++
      return false
    }
    this.stats.accepted++
    if (keep) {
      await frames.send({ status: 'stored', kept: true })
      return true
    }
    await frames.send({ status: 'stored' })
    await frames.close()
    return false
  }
}

/** What a read that has to wait gives way to (see sendBody). */
const NOT_AT_HAND = Symbol('not at hand')

/** Settles after a few turns of the microtask queue: a read of a chunk already queued settles before it. */
async function turns (n: number): Promise<typeof NOT_AT_HAND> {
  for (let i = 0; i < n; i++) await null
  return NOT_AT_HAND
}

/**
 * Sends a body as data frames of at most CHUNK_BYTES, then the end of the
 * data; cancels the body on failure. Pieces already at hand are sent
 * together (an HTTP body arrives in 64 KiB ones, and a replica's branch
 * queues them while the last frame goes out): every frame costs a yamux
 * frame and its Noise messages, which at 64 KiB a frame were a large part of
 * a member's work for each MiB it pushed. A piece the body has yet to
 * produce is not waited for: what is at hand goes at once, so a slow upload
 * still reaches its replicas as it arrives.
 */
export async function sendBody (frames: SealedFrames, body: ReadableStream<Uint8Array> | undefined, stats: { bytesSent: number }): Promise<void> {
  const reader = body?.getReader()
  let batch: Uint8Array[] = []
  let batched = 0
  const flush = async (): Promise<void> => {
    if (batched === 0) return
    const pieces = batch
    const n = batched
    batch = []
    batched = 0
    await frames.sendData(pieces)
    stats.bytesSent += n
  }
  try {
    let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined
    for (;;) {
      if (reader === undefined) break
      next ??= reader.read()
      const read = batched === 0 ? await next : await Promise.race([next, turns(4)])
      if (read === NOT_AT_HAND) { await flush(); continue }
      next = undefined
      if (read.done) break
      const value = read.value
      for (let at = 0; at < value.byteLength;) {
        const piece = value.subarray(at, at + CHUNK_BYTES - batched)
        at += piece.byteLength
        batch.push(piece)
        batched += piece.byteLength
        if (batched >= CHUNK_BYTES) await flush()
      }
    }
    await flush()
    await frames.endData()
  } catch (err) {
    await reader?.cancel(err).catch(() => {})
    throw err
  } finally {
    reader?.releaseLock()
  }
}
