import { s3Signer } from '../core/s3-signer.js'
import type { Membership } from '../core/membership/membership.js'
import { createS3Handler } from '../s3-shim/index.js'
import { serveServiceWorker } from './bridge.js'
import { startPageNode, type PageNode } from './page-node.js'
import { S3_BASE_PATH, type WorkerConfig } from './worker-config.js'

export interface RegisterOptions {
  /** The service worker script, served from the site's root so it may control every page (default `/s3mesh-sw.js`). */
  serviceWorkerUrl?: string
  /**
   * Root credentials. Signed requests to `/s3/...` are checked against them,
   * and with them the tab obtains what it needs to join the mesh from the node
   * that served the page (a SigV4-signed request: nobody without them joins).
   * Requests signed with any other key go to that node, which decides them by
   * that user's policies. Without credentials, the worker keeps those an
   * earlier page of the origin gave it (and its gateway).
   */
  accessKeyId?: string
  secretAccessKey?: string
  /**
   * Without credentials: make the worker forget any an earlier page gave it
   * (a console logging out, or logging in as a user who is not root), so
   * root's keys do not outlive root's session.
   */
  forgetCredentials?: boolean
  /** Join the mesh as a page node (default: when credentials are given). */
  join?: boolean
  /** Where to ask for the cluster key and relays (default: this page's origin, which a node serves). */
  joinEndpoint?: string
  /**
   * A node's S3 endpoint the service worker reads from when no page node is
   * open and IndexedDB lacks an object (default: this page's origin, which a
   * node serves under /s3/; `false` for none).
   */
  gateway?: string | false
  /**
   * Let the tab dial ws:// and private addresses (browsers' libp2p refuses
   * both). Default: only when this page itself comes from a local address
   * (localhost, 127.0.0.0/8, 10/8, 172.16/12, 192.168/16), i.e. a local mesh.
   */
  allowLocalAddresses?: boolean
  /** Gives up waiting for the worker (and the join) after this long, ms. */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface Registration {
  registration: ServiceWorkerRegistration
  /** The tab's mesh node, when it joined. */
  node?: PageNode
  /**
   * The mesh's members as this tab sees them, when it joined: `list()`, and
   * `member:join`, `member:update`, `member:suspect`, `member:failed` and
   * `member:leave` events (CustomEvent with the member).
   */
  membership?: Membership
  /** Leaves the mesh and stops answering for the service worker (it serves from IndexedDB alone then). */
  stop: () => Promise<void>
}

/** The service worker did not take control of the page in time, or cannot run here. */
export class ServiceWorkerUnavailableError extends Error {
  override name = 'ServiceWorkerUnavailableError'
}

/** The tab could not join the mesh (wrong credentials, no relay reachable). */
export class JoinError extends Error {
  override name = 'JoinError'
}

function isLocalHost (host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' ||
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host)
}

/**
 * Registers the s3mesh service worker for this origin and resolves once it
 * controls the page, so that `fetch('/s3/bucket/key')` from here on is S3;
 * with credentials, the tab also joins the mesh, and the worker answers
 * through it for every object in the mesh.
 */
export async function register (options: RegisterOptions = {}): Promise<Registration> {
  if (!('serviceWorker' in navigator)) throw new ServiceWorkerUnavailableError('This browser has no service workers here (they need https:// or localhost, and no private mode in some browsers).')
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(options.timeoutMs ?? 30_000)])
  const registration = await navigator.serviceWorker.register(options.serviceWorkerUrl ?? '/s3mesh-sw.js', { scope: '/' })
  await until(signal, async () => {
    if (navigator.serviceWorker.controller !== null) return
    await new Promise<void>(resolve => { navigator.serviceWorker.addEventListener('controllerchange', () => { resolve() }, { once: true }) })
  })
  const { accessKeyId, secretAccessKey } = options
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    // Forgotten, the worker holds no keys: requests signed by anyone go to the node, which decides them.
    if (options.forgetCredentials === true) await configure({}, signal)
    return { registration, stop: async () => {} }
  }
  await configure({ credentials: { accessKeyId, secretAccessKey }, ...(options.gateway === false ? {} : { gateway: options.gateway ?? location.origin }) }, signal)
  if (options.join === false) return { registration, stop: async () => {} }

  const client = s3Signer({ accessKeyId, secretAccessKey })
  const res = await client.fetch(`${options.joinEndpoint ?? location.origin}/_s3mesh/v1/browser-join`, { signal })
  if (!res.ok) throw new JoinError(`The node refused to let this tab join (${res.status}): ${await res.text()}`)
  const info = await res.json() as { cluster: string, clusterKeys: string[], relays: string[] }
  const node = await startPageNode({
    relays: info.relays,
    clusterKeys: info.clusterKeys.map(k => Uint8Array.from(atob(k), c => c.charCodeAt(0))),
    cluster: info.cluster,
    allowLocalAddresses: options.allowLocalAddresses ?? isLocalHost(location.hostname),
    signal,
  }).catch((err: unknown) => { throw new JoinError(`This tab could not join the mesh: ${err instanceof Error ? err.message : String(err)}`) })
  const handler = createS3Handler({
    store: node.node.store,
    basePath: S3_BASE_PATH,
    sandboxObjects: true,
    credentials: { secretFor: id => id === accessKeyId ? secretAccessKey : undefined },
    // The worker only hands over its own origin's requests, and keeps navigations read-only itself.
    allowAnonymous: () => true,
  })
  const unserve = serveServiceWorker(handler)
  return {
    registration, node, membership: node.transport.membership,
    stop: async () => { unserve(); await node.stop() },
  }
}

/** Sends the worker its configuration and waits until it has stored it. */
async function configure (config: WorkerConfig, signal: AbortSignal): Promise<void> {
  const worker = navigator.serviceWorker.controller
  if (worker === null) throw new ServiceWorkerUnavailableError('No service worker controls this page.')
  const channel = new MessageChannel()
  await until(signal, async () => {
    const answer = new Promise<{ ok: boolean, error?: string }>(resolve => { channel.port1.onmessage = e => { resolve(e.data as { ok: boolean, error?: string }) } })
    worker.postMessage({ type: 's3mesh:config', config }, [channel.port2])
    const { ok, error } = await answer
    if (!ok) throw new ServiceWorkerUnavailableError(`The service worker could not store its configuration: ${error ?? 'unknown error'}`)
  })
}

async function until (signal: AbortSignal, step: () => Promise<void>): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(new ServiceWorkerUnavailableError(`The s3mesh service worker did not answer: ${String(signal.reason)}`)) }
    signal.addEventListener('abort', onAbort, { once: true })
    step().then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
