/**
 * The s3mesh service worker: `/s3/...` requests from the pages it controls get
 * S3 semantics from the same handler as the Node server: through a page node
 * when one is open (but reads of what the page node marked current here,
 * answered from IndexedDB: see worker-reads.ts), otherwise over IndexedDB,
 * reading what IndexedDB lacks
 * from the gateway (a GatewayStore towards the node that served the page).
 * Everything else goes to the network untouched. It keeps nothing in memory
 * that IndexedDB does not have but the page nodes' marks, which it may lose
 * (the browser stops idle workers at will): their reads go to the page then.
 */
import { askAgain } from './page-retry.js'
import { S3Error } from '../core/errors.js'
import { requestIdSource } from '../core/ids.js'
import { GatewayStore } from '../gateway/gateway-store.js'
import { ReadThroughStore } from '../gateway/read-through-store.js'
import { RemoteS3 } from '../gateway/remote-s3.js'
import { s3Signer } from '../core/s3-signer.js'
import { createS3Handler, errorResponse, type S3Handler } from '../s3-shim/index.js'
import { askPageNode, pingPageNode } from './bridge.js'
import { IdbStore } from './idb-store.js'
import { PageNodes } from './page-nodes.js'
import { ownHandler } from './own-handler.js'
import { browserHashes } from './wasm-hashes.js'
import { localReadPath, WorkerMarks } from './worker-reads.js'
import { loadWorkerConfig, saveWorkerConfig, type WorkerConfig, S3_BASE_PATH, TO_NODE_HEADER } from './worker-config.js'

// The few service-worker types used here (the project's TypeScript lib is the DOM's, not the worker's).
interface ExtendableEvent extends Event { waitUntil: (work: Promise<unknown>) => void }
interface FetchEvent extends ExtendableEvent { readonly request: Request, respondWith: (response: Promise<Response>) => void }
interface ExtendableMessageEvent extends ExtendableEvent { readonly data: unknown, readonly ports: readonly MessagePort[] }
interface WindowClient { readonly id: string, postMessage: (message: unknown, transfer: Transferable[]) => void }
interface ExtendableMessageEventWithSource extends ExtendableMessageEvent { readonly source: WindowClient | null }
interface ServiceWorkerScope {
  readonly location: Location
  skipWaiting: () => Promise<void>
  readonly clients: { claim: () => Promise<void>, matchAll: (options: { type: 'window' }) => Promise<WindowClient[]>, get: (id: string) => Promise<WindowClient | undefined> }
  addEventListener: ((type: 'install' | 'activate', listener: (event: ExtendableEvent) => void) => void) &
  ((type: 'fetch', listener: (event: FetchEvent) => void) => void) &
  ((type: 'message', listener: (event: ExtendableMessageEventWithSource) => void) => void)
}
const scope = self as unknown as ServiceWorkerScope

/** How long a gateway may take to start answering, ms. */
const GATEWAY_TIMEOUT_MS = 30_000

/** The gateway's store for the configuration in IndexedDB, made again only when that changes. */
let gateway: { id: string, store: GatewayStore } | undefined
async function gatewayStore (): Promise<{ store: GatewayStore, name: string } | undefined> {
  const { credentials, gateway: url } = await loadWorkerConfig()
  if (credentials === undefined || url === undefined) return undefined
  const id = `${url}\n${credentials.accessKeyId}\n${credentials.secretAccessKey}`
  if (gateway?.id !== id) {
    // The node serves S3 under the same base path as this worker, on the origin that served the page.
    const remote = new RemoteS3({ endpoints: [`${url.replace(/\/$/, '')}${S3_BASE_PATH}`], ...credentials, timeoutMs: GATEWAY_TIMEOUT_MS, retryAfterMs: 0, blobBodies: true, noHttpCache: true })
    // No cache: what is read through is not kept; no bodies are sent (reads only).
    gateway = { id, store: new GatewayStore({ remote, cacheTtlMs: 0, cacheMaxObjectBytes: 0, replayableBytes: 0 }) }
  }
  return { store: gateway.store, name: `the gateway ${url}` }
}

/** Whether a request sets an ACL: x-amz-acl or x-amz-grant-*, as headers or in a presigned URL's query. */
function setsAcl (request: Request): boolean {
  const names = [...request.headers.keys(), ...[...new URL(request.url).searchParams.keys()].map(n => n.toLowerCase())]
  return names.some(n => n === 'x-amz-acl' || n.startsWith('x-amz-grant-'))
}

const idb = new IdbStore()
const store = new ReadThroughStore({ local: idb, remote: gatewayStore })

/** With an admission, the page's requests are decided with its user's rights, as the node decides them; made again when it is renewed. */
let admitted: { admission: string, handler: S3Handler } | undefined
async function handlerFor (): Promise<S3Handler> {
  const { credentials, admission, loggedOut: out } = await loadWorkerConfig()
  if (credentials === undefined && out === true) return loggedOut
  if (credentials === undefined || admission === undefined) return handler
  if (admitted?.admission !== admission) admitted = { admission, handler: ownHandler(store, admission, credentials) }
  return admitted.handler
}

/** For a page node's marked reads: IndexedDB alone (what it lacks is the page's to fetch), decided with the same admission. */
let marked: { admission: string, handler: S3Handler } | undefined
function markedHandler (admission: string, credentials: NonNullable<WorkerConfig['credentials']>): S3Handler {
  if (marked?.admission !== admission) marked = { admission, handler: ownHandler(idb, admission, credentials) }
  return marked.handler
}

/** The reads page nodes marked current in IndexedDB (see worker-reads.ts). */
const marks = new WorkerMarks()

/** Without an admission (no credentials given): the origin's own IndexedDB, as before any user existed. */
const handler = createS3Handler({
  store,
  basePath: S3_BASE_PATH,
  // This origin keeps the page's keys: an object opened here must not run as the page.
  sandboxObjects: true,
  hashes: browserHashes,
  // Signed requests are checked against the credentials the page registered with (kept in IndexedDB).
  credentials: {
    secretFor: async accessKeyId => {
      const { credentials } = await loadWorkerConfig()
      return credentials?.accessKeyId === accessKeyId ? credentials.secretAccessKey : undefined
    },
  },
  // Only this origin's pages reach this worker, so their unsigned requests are the page's own.
  // A navigation can come from any site (a link, a form), so it may only read.
  allowAnonymous: request => request.mode !== 'navigate' || request.method === 'GET' || request.method === 'HEAD',
})

/** After a log out: copies a user read may be in IndexedDB, so nothing unsigned is answered until a page gives keys again. */
const loggedOut = createS3Handler({
  store, basePath: S3_BASE_PATH, sandboxObjects: true, hashes: browserHashes,
  credentials: { secretFor: () => undefined },
  allowAnonymous: () => false,
})

scope.addEventListener('install', event => { event.waitUntil(scope.skipWaiting()) })
scope.addEventListener('activate', event => { event.waitUntil(scope.clients.claim()) })

/** The pages running a page node (page-nodes.ts). */
const pages = new PageNodes<WindowClient>({
  all: async () => await scope.clients.matchAll({ type: 'window' }),
  get: async id => await scope.clients.get(id),
  ping: async c => await pingPageNode(c, 300),
  forget: id => { marks.forget(id) },
})

const nextRequestId = requestIdSource()

/** An S3 error answered by the worker itself, in the handler's own format. */
function s3Error (request: Request, message: string): Response {
  return errorResponse(new S3Error('ServiceUnavailable', message), nextRequestId(), request.method)
}

/** Subresources of the access state, which only the node keeps (a page node and IndexedDB have none). */
const NODE_ONLY = ['policy', 'policyStatus', 'acl']

/** The access key a request is signed with (its Authorization header, or a presigned URL's X-Amz-Credential), if any. */
function signingKey (request: Request): string | undefined {
  const header = /Credential=([^/\s,]+)\//.exec(request.headers.get('authorization') ?? '')?.[1]
  return header ?? new URL(request.url).searchParams.get('X-Amz-Credential')?.split('/')[0]
}

/** Headers a browser sets itself, not to be signed or copied. */
const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'origin', 'referer', 'user-agent', 'accept-encoding', 'cookie'])

/** A request's body as one Blob (none: undefined), or S3's IncompleteBody answer when it cannot be read (the app's page cut it short). */
async function blobOf (request: Request): Promise<Blob | Response | undefined> {
  if (request.body === null) return undefined
  try {
    return await request.blob()
  } catch (err) {
    return errorResponse(new S3Error('IncompleteBody', `The request body could not be read: ${err instanceof Error ? err.message : String(err)}`), nextRequestId(), request.method)
  }
}

/** How long a write may take to be answered: a minute, and a second for each MB of its body (as a page node is given). */
function writeTimeoutMs (bytes: number): number {
  return 60_000 + Math.ceil(bytes / 1000)
}

/**
 * An unsigned request of the page, sent to its node signed with the page's
 * keys (the node decides it): to the endpoints the tab's join named for its
 * writes, the next tried while one cannot be reached. A node that does not
 * answer in time, or none reachable, is S3's 503 to the app, not a failed fetch.
 */
async function toNode (request: Request, config: WorkerConfig & { credentials: NonNullable<WorkerConfig['credentials']> }): Promise<Response> {
  const url = new URL(request.url)
  const path = `${url.pathname.slice(S3_BASE_PATH.length)}${url.search}`
  const endpoints = config.writers ?? [`${(config.gateway ?? scope.location.origin).replace(/\/$/, '')}${S3_BASE_PATH}`]
  const headers: Record<string, string> = { [TO_NODE_HEADER]: '1' }
  for (const [k, v] of request.headers) if (!HOP_HEADERS.has(k) && !k.startsWith('sec-')) headers[k] = v
  // A Blob, not the bytes in memory: the browser keeps a large one on disk, and it can be sent again to the next node.
  const body = request.method !== 'GET' && request.method !== 'HEAD' ? await blobOf(request) : undefined
  if (body instanceof Response) return body
  const signer = s3Signer(config.credentials)
  let failure: unknown
  for (const endpoint of endpoints) {
    const signal = AbortSignal.timeout(writeTimeoutMs(body?.size ?? 0))
    try {
      return await signer.fetch(`${endpoint.replace(/\/$/, '')}${path}`, { method: request.method, headers, ...(body === undefined ? {} : { body }), signal })
    } catch (err) {
      failure = err
      // One that took too long may have made the write: it is not sent to another as well.
      if (signal.aborted) return s3Error(request, `The node at ${endpoint} did not answer in time; retry the request.`)
    }
  }
  return s3Error(request, `No node could be reached for this request (${endpoints.join(', ')}): ${failure instanceof Error ? failure.message : String(failure)}`)
}

/** A page node answers for the whole mesh; without one, IndexedDB and the gateway answer. */
async function answer (request: Request): Promise<Response> {
  // A navigation can come from any site, so it may only read (checked here: the page sees no mode).
  if (request.mode === 'navigate' && request.method !== 'GET' && request.method !== 'HEAD') return await (await handlerFor())(request)
  // A write takes back what was marked in its bucket before it is sent on (the page's word that it changed follows,
  // and the answer's number keeps the marks unused until that word is taken: worker-reads.ts).
  const write = request.method !== 'GET' && request.method !== 'HEAD'
  if (write) marks.dropBucket(new URL(request.url).pathname.slice(S3_BASE_PATH.length + 1).split('/')[0] ?? '')
  // Signed with a key other than the one this worker was given: a user who is not root (the console logged in as
  // one), whose policies only the node knows. And a bucket's or object's policy and ACL: only the node keeps the
  // access state. The node that served the page answers those, untouched.
  const key = signingKey(request)
  if (key !== undefined && key !== (await loadWorkerConfig()).credentials?.accessKeyId) return await fetch(request)
  if (NODE_ONLY.some(q => new URL(request.url).searchParams.has(q))) return await fetch(request)
  const node = await pages.pick()
  // A page that joined: its writes are the node's to make, and an ACL set while writing is kept only there. With no
  // page node to send them, or with an ACL, they go to the node signed with the page's keys (IndexedDB alone would
  // acknowledge what no durable member holds).
  const config = await loadWorkerConfig()
  if (config.admission !== undefined && config.credentials !== undefined && ((write && node === undefined) || setsAcl(request))) {
    // One the app signed itself goes as it is, to the origin it signed it for (its signature names the host).
    return key !== undefined ? await fetch(request) : await toNode(request, { ...config, credentials: config.credentials })
  }
  if (node === undefined) return await (await handlerFor())(request)
  // A read of a key's current version that the page node marked current here: answered from IndexedDB, if the
  // answer's headers are those the page node gave (else the page answers, and the mark is not tried again).
  const path = localReadPath(request)
  const mark = path === undefined || config.admission === undefined ? undefined : marks.marked(node.id, request.method, path, config.admission)
  if (mark !== undefined && config.admission !== undefined && config.credentials !== undefined) {
    const local = await markedHandler(config.admission, config.credentials)(request)
    if (marks.matches(node.id, request.method, path!, mark, local)) return local
    await local.body?.cancel().catch(() => {})
  }
  // A PUT's body goes to the page as one Blob (bridge.ts).
  const body = request.method === 'PUT' ? await blobOf(request) : undefined
  if (body instanceof Response) return body
  const page = watchPage(node.id)
  let failure: unknown
  try {
    // The page answers a write once its node has the bytes: a large one is given time at 1 MB/s at least.
    const timeoutMs = writeTimeoutMs(body?.size ?? 0)
    // Watched until the answer's body is read (settled): a page closing mid-body fails the body, rather than leave it hanging.
    const answered = await askPageNode(node, request, { timeoutMs, relayed: seq => { marks.relayed(node.id, seq) }, blob: body, signal: page.signal, settled: page.stop })
    pages.answered(node.id)
    return answered
  } catch (err) {
    failure = err
  }
  // A page still open whose node did not answer in time (or failed) is asked again later; a closed one is forgotten.
  pages.failed(node.id, failure instanceof PageGone)
  marks.forget(node.id)
  const pageClosed = failure instanceof PageGone && failure.closed
  if (askAgain({ method: request.method, url: request.url, headers: request.headers, bodyGone: request.body !== null && body === undefined, pageClosed })) {
    return await answer(body !== undefined ? new Request(request, { body }) : request)
  }
  return s3Error(request, 'The page running this tab\'s mesh node closed or stopped during the request; retry it.')
}

/** A page node given up on: `closed` (no longer a client of this worker), or its node stopped. */
class PageGone extends Error {
  override name = 'PageGone'
  constructor (readonly closed: boolean) {
    super(closed ? 'The page running the mesh node closed.' : 'The page\'s mesh node stopped.')
  }
}

/** How often a page asked for an answer is looked for among the worker's clients. */
const PAGE_WATCH_MS = 500

/** Pages whose node said it stopped (and has not said it is up again). */
const stoppedNodes = new Set<string>()

/** Requests waiting on each page node, to give up on when it goes. */
const waiting = new Map<string, Set<AbortController>>()

/**
 * A signal that aborts (with PageGone) once page `id` is gone: closed (no
 * longer a client of this worker; a closing page tells no one, so it is
 * looked for every PAGE_WATCH_MS), or its node stopped (also when that word
 * came before this watch began). Without it a request the page had would
 * wait for its whole timeout.
 */
function watchPage (id: string): { signal: AbortSignal, stop: () => void } {
  const controller = new AbortController()
  const mine = waiting.get(id) ?? new Set()
  waiting.set(id, mine)
  mine.add(controller)
  const look = (): void => {
    void scope.clients.get(id).then(c => {
      if (c === undefined) controller.abort(new PageGone(true))
      else if (stoppedNodes.has(id)) controller.abort(new PageGone(false))
    }, () => {})
  }
  // pageNode() has just found the page among the clients: only a stop told before this watch began is looked for now.
  if (stoppedNodes.has(id)) controller.abort(new PageGone(false))
  const timer = setInterval(look, PAGE_WATCH_MS)
  return {
    signal: controller.signal,
    stop: () => {
      clearInterval(timer)
      mine.delete(controller)
      if (mine.size === 0 && waiting.get(id) === mine) waiting.delete(id)
    },
  }
}

/** Page `id`'s node stopped: what it was asked is given up on. */
function pageStopped (id: string): void {
  stoppedNodes.add(id)
  for (const c of waiting.get(id) ?? []) c.abort(new PageGone(false))
}

scope.addEventListener('fetch', event => {
  const url = new URL(event.request.url)
  if (url.origin !== scope.location.origin) return
  if (url.pathname !== S3_BASE_PATH && !url.pathname.startsWith(`${S3_BASE_PATH}/`)) return
  // A tab's own requests to its node (its writes, signed in the page): left to the browser, which sends them itself
  // (a worker re-sending a request with a body costs it several times the upload).
  if (event.request.headers.has(TO_NODE_HEADER)) return
  event.respondWith(answer(event.request).then(response => decoded(event.request, response)))
})

/**
 * The DecompressionStream format for a body stored with Content-Encoding
 * `coding`, told by its first bytes as well: gzip's magic number, zlib's
 * header for deflate. A body that lacks them is not decoded: an answer this
 * worker had through its own fetch (the gateway, a page node reading through
 * the network) comes already decoded by the browser. A raw deflate stream
 * (which Chromium's network takes too) and `br` (no format for it yet) stay
 * as stored.
 */
function formatOf (coding: string, head: Uint8Array): CompressionFormat | undefined {
  if (head.byteLength < 2) return undefined
  if (coding === 'gzip' || coding === 'x-gzip') return head[0] === 0x1f && head[1] === 0x8b ? 'gzip' : undefined
  if (coding === 'deflate') return (head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0 ? 'deflate' : undefined
  return undefined
}

/**
 * An object stored with a Content-Encoding (a site's `.js` uploaded gzipped),
 * read whole: a browser decodes such a body as it comes from the network,
 * but not one a worker makes, so a page (its fetch, a script or an image)
 * would get the compressed bytes. Decoded here, as from the network; the
 * headers stay as they came (Content-Encoding still says how it is stored),
 * but for Content-Length, which counts the stored bytes. Left as stored: a
 * request that checks the object's checksum (the AWS SDK's
 * `x-amz-checksum-mode`, whose checksum is of the stored bytes), and answers
 * from the network (`fetch` in this worker), which the browser decoded.
 */
async function decoded (request: Request, response: Response): Promise<Response> {
  if (response.type !== 'default' || request.method !== 'GET' || response.status !== 200 || response.body === null || request.headers.has('x-amz-checksum-mode')) return response
  const codings = (response.headers.get('content-encoding') ?? '').split(',').map(c => c.trim().toLowerCase()).filter(c => c !== '' && c !== 'identity')
  if (codings.length !== 1) return response
  const reader = response.body.getReader()
  const first = await reader.read()
  const body = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start: controller => { if (first.done) controller.close(); else controller.enqueue(first.value) },
    pull: async controller => {
      const { done, value } = await reader.read()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    cancel: async reason => { await reader.cancel(reason) },
  })
  const format = first.done ? undefined : formatOf(codings[0]!, first.value)
  const headers = new Headers(response.headers)
  if (format !== undefined) headers.delete('content-length')
  return new Response(format === undefined ? body : body.pipeThrough(new DecompressionStream(format)), { status: response.status, statusText: response.statusText, headers })
}

scope.addEventListener('message', event => {
  const data = event.data as { type?: string, config?: WorkerConfig } | undefined
  // A page of the origin it does not control (loaded by a hard reload) asks to be: claimed, as at activation.
  if (data?.type === 's3mesh:claim') { event.waitUntil(scope.clients.claim()); return }
  if (data?.type === 's3mesh:node-up' && event.source !== null) { pages.started(event.source.id); stoppedNodes.delete(event.source.id); marks.up(event.source.id); return }
  if (data?.type === 's3mesh:node-down' && event.source !== null) { pages.stopped(event.source.id); marks.stop(event.source.id); pageStopped(event.source.id); return }
  if (event.source !== null && marks.take(event.source.id, data)) return
  if (data?.type !== 's3mesh:config' || data.config === undefined) return
  const port = event.ports[0]
  event.waitUntil(saveWorkerConfig(data.config).then(() => { port?.postMessage({ ok: true }) }, (err: unknown) => { port?.postMessage({ ok: false, error: String(err) }) }))
})
