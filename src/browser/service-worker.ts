/**
 * The s3mesh service worker: `/s3/...` requests from the pages it controls get
 * S3 semantics from the same handler as the Node server, over IndexedDB.
 * Everything else goes to the network untouched. It keeps nothing in memory
 * that IndexedDB does not have: the browser stops idle workers at will.
 */
import { s3Signer } from '../core/s3-signer.js'
import { browserHashes } from './wasm-hashes.js'
import { S3Error } from '../core/errors.js'
import { requestIdSource } from '../core/ids.js'
import { createS3Handler, errorResponse } from '../s3-shim/index.js'
import { askPageNode, pingPageNode } from './bridge.js'
import { IdbStore } from './idb-store.js'
import { loadWorkerConfig, saveWorkerConfig, type WorkerConfig, S3_BASE_PATH } from './worker-config.js'

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

const store = new IdbStore()
const handler = createS3Handler({
  store,
  basePath: S3_BASE_PATH,
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

scope.addEventListener('install', event => { event.waitUntil(scope.skipWaiting()) })
scope.addEventListener('activate', event => { event.waitUntil(scope.clients.claim()) })

/**
 * Pages running a page node, by client id. Only a cache: after the browser
 * restarts this worker it is empty, and the open pages are asked again.
 */
const pageNodes = new Set<string>()
let asked = false

async function pageNode (): Promise<WindowClient | undefined> {
  if (!asked) {
    asked = true
    const clients = await scope.clients.matchAll({ type: 'window' })
    await Promise.all(clients.map(async c => { if (await pingPageNode(c, 300)) pageNodes.add(c.id) }))
  }
  for (const id of pageNodes) {
    const client = await scope.clients.get(id)
    if (client !== undefined) return client
    pageNodes.delete(id)
  }
  return undefined
}

/** How long a gateway may take to start answering, ms. */
const GATEWAY_TIMEOUT_MS = 30_000

const nextRequestId = requestIdSource()

/** An S3 error answered by the worker itself, in the handler's own format. */
function s3Error (request: Request, message: string): Response {
  return errorResponse(new S3Error('ServiceUnavailable', message), nextRequestId(), request.method)
}

/**
 * IndexedDB alone; a read it cannot answer (no such key or bucket here) goes
 * to the gateway, signed with the registered credentials, when there is one.
 */
async function local (request: Request): Promise<Response> {
  const read = request.method === 'GET' || request.method === 'HEAD'
  const res = await handler(read ? request.clone() : request)
  if (!read || res.status !== 404) return res
  const { credentials, gateway } = await loadWorkerConfig()
  if (credentials === undefined || gateway === undefined) return res
  const url = new URL(request.url)
  const target = `${gateway.replace(/\/$/, '')}${url.pathname}${url.search}`
  const headers: Record<string, string> = {}
  for (const name of ['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']) {
    const value = request.headers.get(name)
    if (value !== null) headers[name] = value
  }
  try {
    const client = s3Signer(credentials)
    return await client.fetch(target, { method: request.method, headers, signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS) })
  } catch (err) {
    return s3Error(request, `This browser does not hold that, and the gateway ${gateway} did not answer: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/** A page node answers for the whole mesh; without one, IndexedDB and the gateway answer. */
async function answer (request: Request): Promise<Response> {
  // A navigation can come from any site, so it may only read (checked here: the page sees no mode).
  if (request.mode === 'navigate' && request.method !== 'GET' && request.method !== 'HEAD') return await handler(request)
  const node = await pageNode()
  if (node === undefined) return await local(request)
  try {
    return await askPageNode(node, request, 60_000)
  } catch {
    // The page went away mid-request. A request without a body can be answered here instead.
    pageNodes.delete(node.id)
    if (request.body === null) return await answer(request)
    return s3Error(request, 'The page running this tab\'s mesh node closed during the request; retry it.')
  }
}

scope.addEventListener('fetch', event => {
  const url = new URL(event.request.url)
  if (url.origin !== scope.location.origin) return
  if (url.pathname !== S3_BASE_PATH && !url.pathname.startsWith(`${S3_BASE_PATH}/`)) return
  event.respondWith(answer(event.request))
})

scope.addEventListener('message', event => {
  const data = event.data as { type?: string, config?: WorkerConfig } | undefined
  if (data?.type === 's3mesh:node-up' && event.source !== null) { pageNodes.add(event.source.id); return }
  if (data?.type === 's3mesh:node-down' && event.source !== null) { pageNodes.delete(event.source.id); return }
  if (data?.type !== 's3mesh:config' || data.config === undefined) return
  const port = event.ports[0]
  event.waitUntil(saveWorkerConfig(data.config).then(() => { port?.postMessage({ ok: true }) }, (err: unknown) => { port?.postMessage({ ok: false, error: String(err) }) }))
})
