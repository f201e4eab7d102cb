import type { IncomingMessage, ServerResponse } from 'node:http'
import { S3Error } from '../core/errors.js'
import { randomId } from '../core/ids.js'
import { errorResponse, rawPathProblem, type RequestInfo, type S3Handler } from '../s3-shim/index.js'

/** What the adapter reports once a response has been sent (or the client went away). */
export interface Exchange {
  operation: string
  status: number
  seconds: number
  bytesIn: number
  bytesOut: number
}

export interface AdapterOptions {
  onExchange?: (exchange: Exchange) => void
  /**
   * How long a request body may send nothing while it is read, ms (default
   * BODY_IDLE_MS). Then the request is answered 400 RequestTimeout and its
   * connection closed, as S3 does, so a client stalled half-way through an
   * upload does not hold a connection (and the write's resources) forever.
   * Time the handler is not reading (backpressure) does not count.
   */
  bodyIdleMs?: number
  /**
   * How long an answer's body may wait for the client to take a piece of it
   * (256 KiB at the most), ms (default SEND_IDLE_MS). Then the connection is
   * cut: a client that stops reading a download would otherwise hold its
   * connection, and the object's open file, until the server stops.
   */
  sendIdleMs?: number
}

/** Default AdapterOptions.bodyIdleMs: S3 gives up on a silent upload after about 20 s. */
export const BODY_IDLE_MS = 20_000
/** Default AdapterOptions.sendIdleMs: longer than any pause a reading client's window makes. */
export const SEND_IDLE_MS = 60_000
/** The most of an answer's body written at once (see writeBody): 256 KiB in 60 s is 4.3 KiB/s. */
const SEND_PIECE = 256 * 1024

/**
 * A request body as a Web stream, paused while the consumer is slow (backpressure),
 * failing if the client disconnects before the end, and counting bytes.
 * `detach()` lets go of the request: whatever the handler did not read is
 * drained and dropped, so the connection can be kept alive.
 */
function bodyStream (req: IncomingMessage, counter: { bytes: number }, idleMs: number, onIdle: () => void, clockRuns: boolean): { stream: ReadableStream<Uint8Array>, detach: () => void, startClock: () => void } {
  let open = true
  let controller!: ReadableStreamDefaultController<Uint8Array>
  /** Runs while the body is wanted and the client sends nothing (once `clockRuns`: a client waiting for 100 Continue rightly sends nothing before it). */
  let idle: ReturnType<typeof setTimeout> | undefined
  const waitForClient = (): void => {
    clearTimeout(idle)
    if (!clockRuns || !open) return
    idle = setTimeout(() => {
      fail(new S3Error('RequestTimeout', `The client sent none of the request body for ${idleMs / 1000} s.`))
      onIdle()
    }, idleMs)
  }
  const onData = (chunk: Buffer): void => {
    counter.bytes += chunk.length
    if (!open) return
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))
    if ((controller.desiredSize ?? 0) > 0) waitForClient()
    else {
      clearTimeout(idle)
      req.pause()
    }
  }
  const fail = (err: unknown): void => {
    clearTimeout(idle)
    if (!open) return
    open = false
    controller.error(err)
  }
  const stream = new ReadableStream<Uint8Array>({
    start (c) {
      controller = c
      req.on('data', onData)
      req.on('end', () => { clearTimeout(idle); if (open) { open = false; controller.close() } })
      // A reset or an abort half-way through: the client's doing, not the server's (a 400, not a 500, in the metrics).
      req.on('error', err => { fail(new S3Error('IncompleteBody', `The request body could not be read to its end: ${err.message}.`)) })
      req.on('close', () => {
        if (!req.complete) fail(new S3Error('IncompleteBody', 'The client disconnected before the request body was complete.'))
      })
      req.pause()
    },
    pull () {
      req.resume()
      waitForClient()
    },
    cancel () { clearTimeout(idle); open = false; req.resume() },
  }, { highWaterMark: 4 })
  return {
    stream,
    detach: () => { clearTimeout(idle); open = false; req.resume() },
    startClock: () => { clockRuns = true; waitForClient() },
  }
}

/** Requests whose client waits for "100 Continue" before it sends the body (see expectsContinue). */
const awaitingContinue = new WeakSet<IncomingMessage>()

/**
 * For a server's 'checkContinue' event: the request's client sent
 * `Expect: 100-continue`. "100 Continue" goes out only when the handler
 * first reads the body, so a request refused before that (a bad signature,
 * no such bucket, access denied) is answered without the client sending a byte of it.
 */
export function expectsContinue (req: IncomingMessage): void {
  awaitingContinue.add(req)
}

/**
 * `body` behind a gate that calls `first` when the body is first read. A
 * stream's own pull is not that: a stream fills its queue as soon as it
 * starts. Only for requests waiting for "100 Continue".
 */
function onFirstRead (body: ReadableStream<Uint8Array>, first: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let opened = false
  return new ReadableStream<Uint8Array>({
    pull: async controller => {
      if (!opened) { opened = true; first() }
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: async reason => { await reader.cancel(reason) },
  }, { highWaterMark: 0 })
}

/**
 * Writes a Web body to the Node response with backpressure; stops if the
 * client goes away, or takes none of a piece (SEND_PIECE bytes at the most)
 * for `idleMs`, the last one included.
 */
async function writeBody (body: ReadableStream<Uint8Array>, res: ServerResponse, idleMs: number): Promise<number> {
  const reader = body.getReader()
  let sent = 0
  const onClose = (): void => { reader.cancel().catch(() => {}) }
  res.once('close', onClose)
  // Until `event` (or 'close'); past `idleMs` the connection goes ('close' then ends the wait, and the body is let go).
  const until = async (event: 'drain' | 'finish'): Promise<void> => {
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); res.off(event, done); res.off('close', done); resolve() }
      const timer = setTimeout(() => { res.destroy() }, idleMs)
      res.on(event, done)
      res.on('close', done)
    })
  }
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      // The client went away (its 'close' may have come before this reader existed): the body is let go.
      if (res.destroyed) { await reader.cancel().catch(() => {}); return sent }
      sent += value.byteLength
      // In pieces: a drain waited for is of one piece, which a slow client (4 KiB/s) takes within the idle time.
      for (let at = 0; at < value.byteLength && !res.destroyed; at += SEND_PIECE) {
        if (!res.write(value.subarray(at, at + SEND_PIECE))) await until('drain')
      }
    }
    res.end()
    // What the kernel has not taken yet waits in the response: a client that stops reading there is cut off too.
    if (!res.writableFinished && !res.destroyed) await until('finish')
  } catch (err) {
    // Headers are out: the only honest signal left is to cut the connection.
    res.destroy(err instanceof Error ? err : new Error(String(err)))
  } finally {
    res.off('close', onClose)
  }
  return sent
}

/**
 * Serves a Web-standard S3 handler from node:http: turns IncomingMessage into
 * a Request (streaming, no buffering of bodies), aborts the request's signal
 * if the client disconnects, and streams the Response back.
 */
export function toNodeListener (handler: S3Handler, options: AdapterOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = performance.now()
    // aws:SourceIp and aws:SecureTransport in policies; IPv4 clients of a dual-stack socket show as ::ffff:a.b.c.d.
    const address = req.socket.remoteAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
    const info: RequestInfo = { client: { ...(address === undefined ? {} : { sourceIp: address }), secure: 'encrypted' in req.socket && req.socket.encrypted === true } }
    const counter = { bytes: 0 }

    const finish = (bytesOut: number): void => {
      options.onExchange?.({
        operation: info.operation ?? 'Unknown', status: res.statusCode, seconds: (performance.now() - started) / 1000,
        bytesIn: counter.bytes, bytesOut,
      })
    }

    const send = async (response: Response): Promise<void> => {
      res.statusCode = response.status
      response.headers.forEach((value, name) => { res.setHeader(name, value) })
      // Answered before the body was asked for: the client never sends it, so the connection cannot carry another request.
      if (awaitingContinue.delete(req)) res.setHeader('connection', 'close')
      if (response.body === null || req.method === 'HEAD') {
        await response.body?.cancel()
        res.end()
        finish(0)
        return
      }
      finish(await writeBody(response.body, res, options.sendIdleMs ?? SEND_IDLE_MS))
    }

    const rawTarget = req.url ?? '/'
    const problem = rawPathProblem(rawTarget)
    if (problem !== undefined) {
      req.resume()
      send(errorResponse(problem, randomId(8).toUpperCase(), req.method ?? 'GET')).catch(() => { res.destroy() })
      return
    }
    let request: Request
    let detach = (): void => { req.resume() }
    try {
      // WHATWG URLs turn `\` into `/`; S3 keys may contain it.
      const url = `http://${req.headers.host ?? 'localhost'}${rawTarget.replace(/\\/g, '%5C')}`
      const headers = new Headers()
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD' &&
        (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0')
      // A silent client's connection is not kept: the rest of its body may never come.
      const continues = awaitingContinue.has(req)
      const body = hasBody ? bodyStream(req, counter, options.bodyIdleMs ?? BODY_IDLE_MS, () => { if (!res.headersSent) res.setHeader('connection', 'close') }, !continues) : undefined
      if (body !== undefined) detach = body.detach
      if (body !== undefined && continues) {
        body.stream = onFirstRead(body.stream, () => {
          if (!awaitingContinue.delete(req)) return
          res.writeContinue()
          body.startClock()
        })
      }
      request = new Request(url, {
        method: req.method,
        headers,
        // No AbortSignal of our own: a client that goes away errors the body stream (uploads)
        // or cancels the response stream (downloads), which stops the work either way.
        body: body?.stream ?? null,
        // @ts-expect-error: Node's fetch needs duplex for streaming bodies; the DOM types do not know it.
        duplex: 'half',
      })
    } catch (err) {
      // The body stream's too, if one was made: nothing will read it.
      detach()
      const e = new S3Error('InvalidRequest', `The request could not be read: ${err instanceof Error ? err.message : String(err)}`)
      send(errorResponse(e, randomId(8).toUpperCase(), req.method ?? 'GET')).catch(() => { res.destroy() })
      return
    }
    handler(request, info)
      .then(send)
      .catch(err => {
        console.error('s3mesh: failed to send a response:', err)
        res.destroy()
      })
      .finally(detach)
  }
}
