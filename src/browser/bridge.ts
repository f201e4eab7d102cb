/**
 * The service worker and a page node talk over MessageChannels: the worker
 * hands a page node the /s3/ requests while one is open (the page node has
 * the mesh: catalog, peers, replication), but reads of copies the page
 * marked current (worker-reads.ts), and otherwise serves from IndexedDB and
 * its gateway. A PUT's body crosses as a Blob (a handle: the bytes stay in
 * the browser's blob store, and the page node passes the Blob on to
 * IndexedDB and to its node, reading it once to hash it; one over the page
 * node's 256 MiB it streams to its node); other bodies as transferred
 * streams, never buffered whole.
 */
import { requestWithBlob } from '../s3-shim/blob-bodies.js'
import type { S3Handler } from '../s3-shim/index.js'
import type { CurrentReads } from './worker-reads.js'

/** A request as it crosses to the page. */
export interface BridgedRequest {
  type: 's3mesh:request'
  method: string
  url: string
  headers: Array<[string, string]>
  body: ReadableStream<Uint8Array> | Blob | null
}

/** The page's answer. */
export type BridgedResponse = (
  | { status: number, statusText: string, headers: Array<[string, string]>, body: ReadableStream<Uint8Array> | null }
  | { error: string }
) & {
  /** The number of the last message about marks the page posted before this answer (see worker-reads.ts). */
  seq?: number
}

/**
 * Page side: answers the service worker's requests with `handler` (the page
 * node's S3 handler) until the returned function is called; with `reads`,
 * tells the worker which of the reads it answered it may answer itself.
 */
export function serveServiceWorker (handler: S3Handler, reads?: CurrentReads): () => void {
  const container = navigator.serviceWorker
  const onMessage = (event: MessageEvent): void => {
    const data = event.data as { type?: string } | undefined
    const port = event.ports[0]
    if (port === undefined) return
    if (data?.type === 's3mesh:ping') { port.postMessage({ node: true }); return }
    if (data?.type !== 's3mesh:request') return
    const r = data as BridgedRequest
    const request = r.body instanceof Blob
      ? requestWithBlob(r.url, { method: r.method, headers: r.headers }, r.body)
      : new Request(r.url, { method: r.method, headers: r.headers, body: r.body, duplex: 'half' } as RequestInit)
    const read = reads?.begin(request)
    handler(request).then(answered => {
      const res = reads === undefined ? answered : reads.answered(read, answered)
      const body = res.body
      const answer: BridgedResponse = { status: res.status, statusText: res.statusText, headers: [...res.headers], body, ...(reads === undefined ? {} : { seq: reads.sent }) }
      port.postMessage(answer, body === null ? [] : [body as unknown as Transferable])
    }, (err: unknown) => {
      port.postMessage({ error: err instanceof Error ? err.message : String(err), ...(reads === undefined ? {} : { seq: reads.sent }) } satisfies BridgedResponse)
    })
  }
  container.addEventListener('message', onMessage)
  container.controller?.postMessage({ type: 's3mesh:node-up' })
  return () => {
    container.removeEventListener('message', onMessage)
    container.controller?.postMessage({ type: 's3mesh:node-down' })
  }
}

/** How the worker asks a page node (askPageNode). */
export interface AskOptions {
  /** How long the page may take to answer before it is given up on. */
  timeoutMs: number
  /** Told the answer's number (worker-reads.ts) before the answer is given. */
  relayed?: (seq: number | undefined) => void
  /**
   * The request's body, read already: it crosses as a handle, where a
   * transferred stream crosses a chunk at a time, each chunk copied on the
   * page's thread (and a Blob can be sent again if this page goes).
   */
  blob?: Blob
  /**
   * Gives up on the page (it closed: a page that goes away mid-request never
   * answers, and a body it was sending never ends): the wait rejects, and an
   * answer's body still being read fails.
   */
  signal?: AbortSignal
  /** Called once the answer's body is done with (read to its end, failed or cancelled), or there is no answer. */
  settled?: () => void
}

/**
 * Worker side: sends `request` to a page node and turns its answer back into
 * a Response. Rejects when the page does not answer in time, or `signal`
 * says it is gone.
 */
export async function askPageNode (client: { postMessage: (message: unknown, transfer: Transferable[]) => void }, request: Request, options: AskOptions): Promise<Response> {
  const { timeoutMs, relayed, blob, signal } = options
  let res: Response
  try {
    res = await ask(client, request, timeoutMs, relayed, blob, signal)
  } catch (err) {
    options.settled?.()
    throw err
  }
  if (res.body === null) { options.settled?.(); return res }
  return new Response(untilAborted(res.body, signal, options.settled), { status: res.status, statusText: res.statusText, headers: res.headers })
}

/** askPageNode's exchange: the request sent, the answer awaited. */
async function ask (client: { postMessage: (message: unknown, transfer: Transferable[]) => void }, request: Request, timeoutMs: number, relayed: AskOptions['relayed'], blob: Blob | undefined, signal: AbortSignal | undefined): Promise<Response> {
  signal?.throwIfAborted()
  const channel = new MessageChannel()
  const body = blob ?? request.body
  const answer = new Promise<BridgedResponse>((resolve, reject) => {
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', gone) }
    const gone = (): void => { done(); channel.port1.close(); reject(signal!.reason) }
    const timer = setTimeout(() => { done(); channel.port1.close(); reject(new Error(`The page node did not answer in ${timeoutMs} ms.`)) }, timeoutMs)
    signal?.addEventListener('abort', gone, { once: true })
    channel.port1.onmessage = e => { done(); resolve(e.data as BridgedResponse) }
  })
  const message: BridgedRequest = { type: 's3mesh:request', method: request.method, url: request.url, headers: [...request.headers], body }
  client.postMessage(message, [channel.port2, ...(body instanceof ReadableStream ? [body as unknown as Transferable] : [])])
  const a = await answer
  relayed?.(a.seq)
  if ('error' in a) throw new Error(a.error)
  return new Response(a.body, { status: a.status, statusText: a.statusText, headers: a.headers })
}

/**
 * `body` as it comes, failing once `signal` aborts: a body transferred from a
 * page that then closed may never end or fail by itself. `settled` is called
 * once, when the body is done with.
 */
function untilAborted (body: ReadableStream<Uint8Array>, signal: AbortSignal | undefined, settled: (() => void) | undefined): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let over = false
  const end = (): void => {
    if (over) return
    over = true
    signal?.removeEventListener('abort', onAbort)
    settled?.()
  }
  let fail: ((reason: unknown) => void) | undefined
  const onAbort = (): void => {
    fail?.(signal!.reason)
    void reader.cancel(signal!.reason).catch(() => {})
    end()
  }
  return new ReadableStream<Uint8Array>({
    start (c) {
      fail = reason => { c.error(reason) }
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    },
    async pull (c) {
      try {
        const { done, value } = await reader.read()
        if (over) return
        if (done) { c.close(); end() } else c.enqueue(value)
      } catch (err) {
        c.error(err)
        end()
      }
    },
    async cancel (reason) {
      end()
      await reader.cancel(reason)
    },
  })
}

/** Worker side: whether `client` runs a page node (asked when the worker has forgotten, after a restart). */
export async function pingPageNode (client: { postMessage: (message: unknown, transfer: Transferable[]) => void }, timeoutMs: number): Promise<boolean> {
  const channel = new MessageChannel()
  const answer = new Promise<boolean>(resolve => {
    const timer = setTimeout(() => { resolve(false) }, timeoutMs)
    channel.port1.onmessage = () => { clearTimeout(timer); resolve(true) }
  })
  client.postMessage({ type: 's3mesh:ping' }, [channel.port2])
  return await answer
}
