import type { Stream } from '@libp2p/interface'
import { encode } from 'cborg'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import type { HeldBytes } from './held-bytes.js'
import { decodeStrictMap, DroppedMessageError } from './strict-cbor.js'

/**
 * What seals a stream's control messages: the cluster's Keyring between
 * members that hold the key; PLAIN_FRAMES on a guest's stream (a tab holds no
 * cluster key: Noise already encrypts and authenticates the connection, and
 * what the guest may do is decided from its admission, not from a key).
 */
export interface FrameSeal {
  seal (plain: Uint8Array): Promise<Uint8Array>
  open (sealed: Uint8Array): Promise<Uint8Array>
}

/** Control messages as they are: for protocols whose peers prove who they are otherwise (guests' admissions). */
export const PLAIN_FRAMES: FrameSeal = {
  seal: async plain => plain,
  open: async sealed => sealed,
}

/** Largest frame on a mesh stream: control messages and data chunks alike. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Received bytes kept before the stream is paused (yamux then stops granting the sender credit). */
const HIGH_WATER_BYTES = 1024 * 1024
/**
 * The slowest a first frame held to a time bound may arrive, bytes per ms
 * (16 KiB/s): it gets one idle period from its first byte, and this long
 * for its length besides, so an honest large one on a slow link (a tab's
 * feed request naming what it holds) is not cut off, and a trickle is.
 */
const FIRST_FRAME_MIN_BYTES_PER_MS = 16 * 1024 / 1000

/** The peer closed or reset the stream before the frame we waited for. */
export class StreamEndedError extends Error {
  override name = 'StreamEndedError'
}

/** The peer sent nothing, or granted no room to send, for longer than the stream's idle timeout. */
export class PeerIdleError extends Error {
  override name = 'PeerIdleError'
}

export interface FramesOptions {
  /** Aborting it aborts the stream (and every read and write on it). */
  signal?: AbortSignal
  /**
   * A read or write that waits on the peer longer than this aborts the
   * stream, ms. One timer per stream rather than a timeout signal per frame:
   * at hundreds of frames a second those show in profiles.
   */
  idleTimeoutMs?: number
  /**
   * Largest first frame accepted from the peer, bytes (MAX_FRAME_BYTES
   * otherwise), and that frame must be whole within `idleTimeoutMs` of its
   * first byte rather than of the last (plus its length at 16 KiB/s,
   * FIRST_FRAME_MIN_BYTES_PER_MS). For a stream the peer opened: its
   * first frame is buffered whole before it can be opened, so a peer without
   * the cluster key could otherwise hold MAX_FRAME_BYTES per stream, for as
   * long as it trickles a byte now and then. Set it to the largest first
   * message the protocol's honest peers send.
   */
  firstFrameMaxBytes?: number
  /**
   * The budget a first frame that must be waited for is held against, for
   * the bytes of it received, until it is taken (FIRST_FRAMES in
   * held-bytes.ts, for a stream the peer opened). A frame that arrives whole
   * is taken without holding any; one whose received bytes do not fit is
   * refused. It also bounds that frame in time, as `firstFrameMaxBytes` does.
   */
  firstFrames?: HeldBytes
  /** Largest frame after the first, bytes: MAX_FRAME_BYTES unless the protocol's messages are larger (membership's push-pull). */
  maxFrameBytes?: number
  /** Most items a control message may hold (strict-cbor.ts' MAX_ITEMS unless given): lower where a stranger's message is decoded before anything checks who sent it. */
  maxItems?: number
}

/**
 * A length-prefixed libp2p stream whose control messages are CBOR sealed with
 * the cluster key (so only members speak the protocol) and whose data frames
 * are plain (Noise already encrypts the connection; sealing every chunk would
 * only cost time). A zero-length data frame ends the data.
 *
 * Reading is pull-based with backpressure: @libp2p/utils' lpStream buffers
 * whatever arrives and fails past 4 MiB, so a fast sender would break a slow
 * reader; here the stream is paused above a high-water mark instead.
 */
export class SealedFrames {
  private readonly buffer = new Uint8ArrayList()
  private wake: (() => void) | undefined
  private ended = false
  private failure: Error | undefined
  private paused = false
  /** Bytes the pending read needs in the buffer. */
  private need = 0
  /** When the read or write now waiting on the peer gives up (ms since epoch). */
  private deadline: number | undefined
  private waitingMs = 0
  private watchdog: ReturnType<typeof setInterval> | undefined
  /** Whether a frame has been taken: from then on the peer has shown it speaks the protocol. */
  private tookOne = false
  /** When the first frame's first byte arrived (ms since epoch), while it is held to a time bound. */
  private firstByteAt: number | undefined
  /** The first frame's length, once its prefix is in. */
  private firstLength = 0
  /** Bytes of `firstFrames` the first frame's received part holds until it is taken or the stream ends. */
  private held = 0

  constructor (readonly stream: Stream, private readonly keyring: FrameSeal, private readonly options: FramesOptions = {}) {
    if (options.signal !== undefined) this.abortOn(options.signal)
    stream.addEventListener('message', e => {
      this.buffer.append(e.data)
      // Deferred: libp2p's resume() dispatches what it buffered while paused and then tells the
      // muxer to resume. A pause made inside that dispatch would be undone by it: yamux would go
      // on granting credit while the stream buffers, until its read buffer limit aborts the stream.
      queueMicrotask(() => { this.flow() })
      this.wake?.()
    })
    stream.addEventListener('remoteCloseWrite', () => { this.ended = true; this.wake?.() })
    stream.addEventListener('close', e => {
      clearInterval(this.watchdog)
      this.release()
      this.ended = true
      if (e.error !== undefined) this.failure = e.error
      this.wake?.()
    })
  }

  /**
   * Aborting `signal` aborts the stream, until the returned function is
   * called: a stream kept for several exchanges (a push's, see KeptStreams)
   * is bound to each exchange's signal in turn.
   */
  abortOn (signal: AbortSignal): () => void {
    const onAbort = (): void => { this.stream.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted')) }
    if (signal.aborted) { onAbort(); return () => {} }
    const unbind = (): void => {
      signal.removeEventListener('abort', onAbort)
      this.stream.removeEventListener('close', unbind)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    this.stream.addEventListener('close', unbind, { once: true })
    return unbind
  }

  async send (message: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    const sealed = await this.keyring.seal(encode(message))
    await this.write([sealed], sealed.byteLength, signal)
  }

  /**
   * The next control message, opened and decoded to a map; DroppedMessageError
   * if it is not one. `patienceMs` replaces the idle timeout for an answer that
   * takes work on the other side (storing a pushed object).
   */
  async receive (signal?: AbortSignal, patienceMs?: number): Promise<Record<string, unknown>> {
    const frame = (await this.readList(signal, patienceMs)).subarray()
    return decodeStrictMap(await this.keyring.open(frame), 'control message', Infinity, this.options.maxItems)
  }

  /** One data frame of `chunk`, or of several pieces sent together (not copied into one buffer). */
  async sendData (chunk: Uint8Array | Uint8Array[], signal?: AbortSignal): Promise<void> {
    const pieces = Array.isArray(chunk) ? chunk : [chunk]
    const length = pieces.reduce((n, p) => n + p.byteLength, 0)
    if (length > 0) await this.write(pieces, length, signal)
  }

  async endData (signal?: AbortSignal): Promise<void> {
    await this.write([], 0, signal)
  }

  /**
   * The next data frame as the pieces it arrived in (not copied into one
   * buffer: at hundreds of MB/s the copy shows), or undefined at the end of the data.
   */
  async receiveData (signal?: AbortSignal): Promise<Uint8Array[] | undefined> {
    const frame = await this.readList(signal)
    return frame.byteLength === 0 ? undefined : [...frame]
  }

  async close (): Promise<void> {
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }

  private async write (pieces: Uint8Array[], length: number, signal?: AbortSignal): Promise<void> {
    const framed = new Uint8ArrayList(varint.encode(length), ...pieces)
    if (this.stream.send(framed)) return
    this.waitOnPeer()
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        this.deadline = undefined
        this.stream.removeEventListener('drain', onDrain)
        this.stream.removeEventListener('close', onClose)
        signal?.removeEventListener('abort', onAbort)
        if (err === undefined) resolve()
        else reject(err)
      }
      const onDrain = (): void => { done() }
      const onClose = (): void => { done(new StreamEndedError('The stream closed while writing.')) }
      const onAbort = (): void => { done(signal!.reason instanceof Error ? signal!.reason : new Error('aborted')) }
      this.stream.addEventListener('drain', onDrain)
      this.stream.addEventListener('close', onClose)
      signal?.addEventListener('abort', onAbort)
    })
  }

  /** One length-prefixed frame. */
  private async readList (signal?: AbortSignal, patienceMs?: number): Promise<Uint8ArrayList> {
    for (;;) {
      signal?.throwIfAborted()
      const frame = this.takeFrame()
      if (frame !== undefined) return frame
      if (this.failure !== undefined || this.ended) {
        // The frame begun will never be whole: what it held goes back now, not when the stream is closed.
        this.release()
        throw this.failure ?? new StreamEndedError('The peer ended the stream before the next frame.')
      }
      this.flow()
      if (!this.tookOne && this.buffer.byteLength > 0) this.holdFirst()
      this.waitOnPeer(patienceMs)
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { this.wake = undefined; this.deadline = undefined; reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted')) }
        this.wake = () => { this.wake = undefined; this.deadline = undefined; signal?.removeEventListener('abort', onAbort); resolve() }
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  private takeFrame (): Uint8ArrayList | undefined {
    if (this.buffer.byteLength === 0) { this.need = 1; return undefined }
    let length: number
    let prefix: number
    try {
      length = varint.decode(this.buffer)
      prefix = varint.encodingLength(length)
    } catch {
      // Not enough bytes for the length yet (a varint is at most 10).
      if (this.buffer.byteLength >= 10) throw new DroppedMessageError('malformed', 'A frame length that is not a varint.')
      this.need = this.buffer.byteLength + 1
      return undefined
    }
    const most = this.options.maxFrameBytes ?? MAX_FRAME_BYTES
    const max = this.tookOne ? most : (this.options.firstFrameMaxBytes ?? most)
    if (length > max) throw new DroppedMessageError('too-large', `A ${length}-byte ${this.tookOne ? '' : 'first '}frame exceeds ${max} bytes.`)
    if (!this.tookOne) this.firstLength = length
    if (this.buffer.byteLength < prefix + length) { this.need = prefix + length; return undefined }
    const frame = this.buffer.sublist(prefix, prefix + length)
    this.buffer.consume(prefix + length)
    this.tookOne = true
    this.firstByteAt = undefined
    this.release()
    this.need = 0
    this.flow()
    return frame
  }

  /**
   * The first frame is to be waited for, its first bytes in: it gets one idle
   * period from its first byte, and what is buffered of it is held against
   * `firstFrames` (refused if that does not fit).
   */
  private holdFirst (): void {
    if (this.options.firstFrameMaxBytes !== undefined || this.options.firstFrames !== undefined) this.firstByteAt ??= Date.now()
    const budget = this.options.firstFrames
    const more = this.buffer.byteLength - this.held
    if (budget === undefined || more <= 0) return
    if (!budget.take(more)) {
      this.release()
      throw new DroppedMessageError('too-large', `A first frame's ${this.buffer.byteLength} bytes received so far do not fit the ${budget.limit} bytes held for first frames not yet whole (${budget.inUse} in use).`)
    }
    this.held += more
  }

  /** Gives back what the first frame held of `firstFrames`. */
  private release (): void {
    if (this.held === 0) return
    this.options.firstFrames?.give(this.held)
    this.held = 0
  }

  /** Arms the idle timeout for a wait on the peer (the wait clears `deadline` when it ends). */
  private waitOnPeer (patienceMs?: number): void {
    const idle = this.options.idleTimeoutMs
    if (idle === undefined) return
    this.waitingMs = patienceMs ?? idle
    // A first frame that has begun to arrive gets one idle period from its first byte, and the time its length takes
    // at the slowest rate allowed, however it trickles.
    this.deadline = this.firstByteAt === undefined ? Date.now() + this.waitingMs : this.firstByteAt + this.waitingMs + this.firstLength / FIRST_FRAME_MIN_BYTES_PER_MS
    this.watchdog ??= setInterval(() => {
      if (this.deadline !== undefined && Date.now() > this.deadline) {
        clearInterval(this.watchdog)
        this.stream.abort(new PeerIdleError(`The peer did nothing for ${this.waitingMs} ms.`))
      }
    }, Math.max(20, idle / 8))
  }

  /** Pauses the stream while enough is buffered and nobody needs more; resumes otherwise. */
  private flow (): void {
    const full = this.buffer.byteLength >= Math.max(HIGH_WATER_BYTES, this.need)
    try {
      if (full && !this.paused) {
        this.paused = true
        this.stream.pause()
      } else if (!full && this.paused) {
        this.paused = false
        this.stream.resume()
      }
    } catch {
      // The stream is closing: nothing more will arrive to hold back.
    }
  }
}
