import type { Libp2p } from '@libp2p/interface'
import { openStream } from '../wire/open-stream.js'
import { toHex, type Hashes } from '../hashes.js'
import type { ObjectHandle } from '../object-store.js'
import { encodeCatalogMessage, encodeWriteHead } from './catalog-codec.js'
import type { CatalogEntry } from './catalog-entry.js'
import type { WriteHead } from './local-copies.js'
import { SealedFrames, type FrameSeal } from '../wire/sealed-frames.js'
import { ContentMismatchError } from './verify-stream.js'
import { KeptStreams } from './kept-streams.js'
import { SpareStreams } from './spare-streams.js'
import { RangeCheck, rangeRequestFields, ServedTrees, type RangeRequest } from './range-transfer.js'
import { sendBody, TransferServer } from './transfer-server.js'

export const TRANSFER_PROTOCOL = '/s3mesh/transfer/1.0.0'

/** What the transfer protocol needs from the node it runs on. */
export interface TransferHost {
  /** The local copy of (bucket, key), or of its version `versionId` (a slot's local id: LocalCopies.localId), if its content hashes to `sha256`. */
  openLocal (bucket: string, key: string, sha256: string, signal: AbortSignal, versionId?: string): Promise<ObjectHandle | undefined>
  /** Stores pushed bytes of `entry`: verified against it, durable when this resolves. Throws if refused. */
  accept (from: string, entry: CatalogEntry, body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void>
  /**
   * Stores a write as it is being made (pushStream): the bytes first, then
   * `entry()` resolves to its version once they have all arrived. Verified
   * against it and durable when this resolves; throws if refused.
   */
  acceptStreamed (from: string, head: WriteHead, body: ReadableStream<Uint8Array>, entry: () => Promise<CatalogEntry>, signal: AbortSignal): Promise<void>
  /** Hashes for checking what is served. */
  hashes: Hashes
  /** A local copy being served did not hash to what was asked for. */
  onCorrupt (bucket: string, key: string, sha256: string, versionId?: string): void
  /** A member asked for a version this member had no local copy of (the catalog may claim one it lost: LostClaims). */
  onMissing? (bucket: string, key: string, sha256: string, versionId?: string): void
}

export interface TransferOptions {
  /** Waiting for a peer's answer (or its next chunk) longer than this fails the transfer, ms. */
  idleTimeoutMs: number
  /** The protocol spoken: the members' own unless given (guests speak GUEST_TRANSFER_PROTOCOL). */
  protocol?: string
  /**
   * Decides a peer's request before anything is read or sent; throws to
   * refuse it. Members need none (the cluster key is their check); a guest's
   * requests are decided from the admission they carry.
   */
  authorize?: (from: string, request: Record<string, unknown>, signal: AbortSignal) => Promise<void>
  /** Fields added to every request this service sends (a guest's admission). */
  credentials?: () => Record<string, unknown>
  /**
   * Largest first request taken on a stream a peer opened, bytes (SealedFrames'
   * firstFrameMaxBytes); MEMBER_REQUEST_MAX_BYTES (transfer-server.ts) unless given. A guest's
   * requests carry its admission as well.
   */
  firstRequestMaxBytes?: number
}

export const DEFAULT_TRANSFER_OPTIONS: TransferOptions = {
  idleTimeoutMs: 10_000,
}

export interface TransferStats {
  bytesSent: number
  bytesReceived: number
  served: number
  fetched: number
  pushed: number
  accepted: number
  /** Requests refused or dropped: a peer without the key, malformed requests, failed stores. */
  refused: number
  /** Pushes that went out on a stream opened ahead (its protocol agreed), not a new one. */
  pushedOnSpare: number
  /** Pushes that went out on a stream kept from an earlier exchange with the same peer. */
  pushedOnKept: number
  /** Fetches (gets) that went out on a stream kept from an earlier exchange with the same peer. */
  fetchedOnKept: number
}

/** A peer answered that it cannot serve or take an object. */
export class TransferRefusedError extends Error {
  override name = 'TransferRefusedError'
}

/** A write streaming to a replica while it is being made (TransferService.pushStream). */
export interface StreamedPush {
  readonly target: string
  /** After the last byte: tells the replica the write's version and resolves once the replica has stored it. */
  commit: (entry: CatalogEntry) => Promise<void>
  /** The write failed here: the replica stores nothing. */
  abort: (err: Error) => void
}

/**
 * Object bytes between members, over a libp2p stream protocol. `get` streams
 * one object (optionally from an offset, to resume) from a holder; `push`
 * sends one to a replica, which stores it and answers once it is durable.
 * Every request is sealed with the cluster key: a peer without it is refused
 * before anything is read or sent. Bytes stream with backpressure end to end
 * (the reader pulls frames; yamux windows hold the writer back), and are
 * verified by whoever stores them (see verifyingStream).
 */
export class TransferService {
  readonly stats: TransferStats = { bytesSent: 0, bytesReceived: 0, served: 0, fetched: 0, pushed: 0, accepted: 0, refused: 0, pushedOnSpare: 0, pushedOnKept: 0, fetchedOnKept: 0 }

  constructor (
    private readonly libp2p: Libp2p,
    private readonly keyring: FrameSeal,
    private readonly host: TransferHost,
    private readonly options: TransferOptions = DEFAULT_TRANSFER_OPTIONS,
  ) {
    this.spares = new SpareStreams(libp2p, this.protocol, options.idleTimeoutMs / 2)
    this.kept = new KeptStreams(options.idleTimeoutMs / 2)
    this.server = new TransferServer(keyring, host, options, this.stats, new ServedTrees(host.hashes))
  }

  /** Answers what peers ask of this member. */
  private readonly server: TransferServer

  private get protocol (): string { return this.options.protocol ?? TRANSFER_PROTOCOL }

  /** Pushes' streams opened ahead, kept for half the idle timeout (see SpareStreams). */
  private readonly spares: SpareStreams

  /** Streams kept after pushes and fetches, for the next one with the same peer (see KeptStreams). */
  private readonly kept: KeptStreams

  /** A stream for a push, bound to no signal (the push binds its own): one kept from an earlier exchange, else the spare, else a new one. */
  private async openForPush (peer: string, signal: AbortSignal): Promise<SealedFrames> {
    const kept = this.kept.take(peer)
    if (kept !== undefined) {
      this.stats.pushedOnKept++
      return kept
    }
    const spare = this.spares.take(peer)
    if (spare === undefined) return await this.open(peer, signal, false)
    this.stats.pushedOnSpare++
    return new SealedFrames(spare, this.keyring, { idleTimeoutMs: this.options.idleTimeoutMs })
  }

  /** How many streams are kept with `peer` for its next exchange. */
  keptWith (peer: string): number {
    return this.kept.count(peer)
  }

  async start (): Promise<void> {
    await this.libp2p.handle(this.protocol, (stream, connection) => { void this.server.serve(stream, connection) }, { runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    this.spares.stop()
    this.kept.stop()
    await this.libp2p.unhandle(this.protocol)
  }

  /**
   * Streams (bucket, key) with content `sha256` and `size` from `peer`,
   * checking the bytes as they come: the stream errors (ContentMismatchError)
   * instead of ending if they do not hash to `sha256`, holding back its last
   * chunk so a reader never sees a clean end of bad bytes. The verdict goes
   * back to the holder, so a holder whose copy rotted learns it without
   * hashing what it sends. It also errors if the peer refuses, stalls or goes away.
   */
  async get (peer: string, request: { bucket: string, key: string, versionId?: string, sha256: string, size: number }, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    // The version's local id, for a slot of a bucket with versioning set (a holder of an older release reads the key's
    // current copy instead: its bytes then fail the SHA-256 check, and the next holder is tried).
    const fields = { op: 'get', bucket: request.bucket, key: request.key, ...(request.versionId === undefined ? {} : { versionId: request.versionId }), sha256: request.sha256, offset: 0 }
    const { frames: f, done } = await this.fetchFrom(peer, fields, `${request.bucket}/${request.key}`, signal)
    this.stats.fetched++
    const hash = this.host.hashes.create('sha256')
    let size = 0
    let held: Uint8Array[] = []
    return new ReadableStream<Uint8Array>({
      // Each pull enqueues something (the frame before the last one received) or ends: a pull
      // that enqueued nothing would not be called again.
      pull: async controller => {
        try {
          for (;;) {
            const pieces = await f.receiveData()
            if (pieces === undefined) break
            for (const p of pieces) {
              size += p.byteLength
              hash.update(p)
              this.stats.bytesReceived += p.byteLength
            }
            if (size > request.size) throw new ContentMismatchError(`${peer} sent more than the ${request.size} bytes of ${request.bucket}/${request.key}.`)
            const ready = held
            held = pieces
            if (ready.length > 0) {
              for (const p of ready) controller.enqueue(p)
              return
            }
          }
          // The end of the data: the whole body is checked now.
          const got = toHex(hash.digest())
          const ok = size === request.size && got === request.sha256
          if (!ok) {
            await f.send({ op: 'verdict', ok }).catch(() => {})
            throw new ContentMismatchError(`${peer} sent ${size} bytes hashing to ${got}, not ${request.size} bytes hashing to ${request.sha256}.`)
          }
          done()
          for (const p of held) controller.enqueue(p)
          controller.close()
        } catch (err) {
          f.abort(err as Error)
          controller.error(err)
        }
      },
      cancel: reason => { f.abort(reason instanceof Error ? reason : new Error('cancelled')) },
    }, { highWaterMark: 0 })
  }

  /**
   * Streams bytes start..end of an object with a chunk tree from `peer`:
   * only the chunks that hold them travel, and each is checked against the
   * tree's root before any of its bytes come out (the stream errors with
   * ContentMismatchError otherwise). Errors as `get` does if the peer
   * refuses, stalls or goes away.
   */
  async getRange (peer: string, request: RangeRequest, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    // The first range of an object a holder serves waits for it to hash its copy into the tree: more patience.
    const { frames: f, answer, done } = await this.fetchFrom(peer, rangeRequestFields(request), `a range of ${request.bucket}/${request.key}`, signal, this.options.idleTimeoutMs * 6)
    let check: RangeCheck
    try {
      check = new RangeCheck(this.host.hashes, request, answer, peer)
    } catch (err) {
      f.abort(err as Error)
      throw err
    }
    this.stats.fetched++
    return new ReadableStream<Uint8Array>({
      pull: async controller => {
        try {
          for (;;) {
            const pieces = await f.receiveData()
            if (pieces === undefined) break
            for (const p of pieces) this.stats.bytesReceived += p.byteLength
            const out = check.take(pieces)
            if (out.length > 0) {
              for (const p of out) controller.enqueue(p)
              return
            }
          }
          if (!check.complete) throw new ContentMismatchError(`${peer} ended the range of ${request.bucket}/${request.key} short.`)
          done()
          controller.close()
        } catch (err) {
          // A chunk that does not match its tree: the holder is told, and makes the tree again from its copy next time.
          if (err instanceof ContentMismatchError) await f.send({ op: 'verdict', ok: false }).catch(() => {})
          f.abort(err as Error)
          controller.error(err)
        }
      },
      cancel: reason => { f.abort(reason instanceof Error ? reason : new Error('cancelled')) },
    }, { highWaterMark: 0 })
  }

  /**
   * A fetch's request (`fields`, asking the holder to keep the stream) on
   * a stream kept with `peer`, else a new one, and the holder's answer
   * (TransferRefusedError unless ok). `done`, after the reader's last byte
   * checked, sends the good verdict without holding the reader up, and puts
   * the stream back in the pool if the holder keeps it.
   */
  private async fetchFrom (peer: string, fields: Record<string, unknown>, what: string, signal: AbortSignal, patienceMs?: number): Promise<{ frames: SealedFrames, answer: Record<string, unknown>, done: () => void }> {
    let frames = this.kept.take(peer)
    if (frames !== undefined) this.stats.fetchedOnKept++
    else frames = await this.open(peer, signal, false)
    const unbind = frames.abortOn(signal)
    let answer: Record<string, unknown>
    try {
      await frames.send({ ...this.options.credentials?.(), ...fields, keep: true })
      answer = await frames.receive(undefined, patienceMs)
      if (answer.status !== 'ok') throw new TransferRefusedError(`${peer} cannot serve ${what}: ${String(answer.message ?? answer.status)}`)
    } catch (err) {
      frames.abort(err as Error)
      throw err
    }
    const f = frames
    const kept = answer.kept === true
    const done = (): void => {
      void f.send({ op: 'verdict', ok: true }).then(async () => {
        unbind()
        if (kept) this.kept.keep(peer, f)
        else await f.close()
      }, () => { f.abort(new Error('verdict not sent')) })
    }
    return { frames: f, answer, done }
  }

  /** Sends `entry`'s bytes to `peer`, which stores them; resolves when they are durable there. */
  async push (peer: string, entry: CatalogEntry, body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const frames = await this.open(peer, signal)
    try {
      // The bytes follow the request at once: a refusal comes back as the final answer (or a reset).
      await frames.send({ ...this.options.credentials?.(), op: 'push', entry: encodeCatalogMessage([entry]) })
      await sendBody(frames, body, this.stats)
      // Storing takes the replica a while (a large object is fsynced), hence more patience.
      const stored = await frames.receive(undefined, this.options.idleTimeoutMs * 6)
      if (stored.status !== 'stored') throw new TransferRefusedError(`${peer} did not store ${entry.bucket}/${entry.key ?? ''}: ${String(stored.message ?? stored.status)}`)
      this.stats.pushed++
      await frames.close()
    } catch (err) {
      await body.cancel(err).catch(() => {})
      frames.abort(err as Error)
      throw err
    }
  }

  /**
   * Starts sending a write to `peer` while it is being made here: the bytes
   * go as `body` yields them, and `commit` (called once the write has its
   * version) tells the replica which version they are. `body` is cancelled if
   * the stream cannot be opened or fails, so whoever feeds it is not held up.
   * The stream is kept for the next push to `peer` if the replica agrees
   * (`keep` asked, `kept` answered; a member of an older version closes it).
   */
  pushStream (peer: string, head: WriteHead, body: ReadableStream<Uint8Array>, signal: AbortSignal): StreamedPush {
    let frames: SealedFrames | undefined
    let failure: Error | undefined
    let unbind = (): void => {}
    const sent = (async () => {
      frames = await this.openForPush(peer, signal)
      unbind = frames.abortOn(signal)
      if (failure !== undefined) throw failure
      await frames.send({ ...this.options.credentials?.(), op: 'put', keep: true, head: encodeWriteHead(head) })
      await sendBody(frames, body, this.stats)
    })()
    const fail = (err: Error): void => {
      failure ??= err
      void body.cancel(err).catch(() => {})
      frames?.abort(err)
    }
    void sent.catch(err => { fail(err instanceof Error ? err : new Error(String(err))) })
    return {
      target: peer,
      commit: async entry => {
        await sent
        const f = frames!
        await f.send({ op: 'commit', entry: encodeCatalogMessage([entry]) })
        // Storing takes the replica a while (it fsyncs), hence more patience.
        const stored = await f.receive(undefined, this.options.idleTimeoutMs * 6)
        if (stored.status !== 'stored') {
          const err = new TransferRefusedError(`${peer} did not store ${entry.bucket}/${entry.key ?? ''}: ${String(stored.message ?? stored.status)}`)
          fail(err)
          throw err
        }
        this.stats.pushed++
        unbind()
        if (stored.kept === true) this.kept.keep(peer, f)
        else await f.close()
      },
      abort: fail,
    }
  }

  /** A new stream to `peer`; aborting `signal` aborts it unless `bound` is false (its user binds it, see SealedFrames.abortOn). */
  private async open (peer: string, signal: AbortSignal, bound = true): Promise<SealedFrames> {
    const stream = await openStream(this.libp2p, peer, this.protocol, AbortSignal.any([signal, AbortSignal.timeout(this.options.idleTimeoutMs)]))
    return new SealedFrames(stream, this.keyring, { ...(bound ? { signal } : {}), idleTimeoutMs: this.options.idleTimeoutMs })
  }
}
