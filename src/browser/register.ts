import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pause } from '../core/pause.js'
import { s3Signer } from '../core/s3-signer.js'
import { GatewayStore } from '../gateway/gateway-store.js'
import type { BrowserJoinInfo } from '../gateway/mesh-api.js'
import { RemoteS3 } from '../gateway/remote-s3.js'
import type { S3Handler } from '../s3-shim/index.js'
import { serveServiceWorker } from './bridge.js'
import { claimTabUser, PAGE_NODE_LOCK, tabUserOf } from './node-lock.js'
import { fromBase64, ownHandler } from './own-handler.js'
import { startPageNode, type PageNode } from './page-node.js'
import { CurrentReads } from './worker-reads.js'
import type { NodeTransport } from '../core/wire/dial-first.js'
import { S3_BASE_PATH, TO_NODE_HEADER, type WorkerConfig } from './worker-config.js'

export interface RegisterOptions {
  /** The service worker script, served from the site's root so it may control every page (default `/s3mesh-sw.js`). */
  serviceWorkerUrl?: string
  /**
   * Credentials: the root's, any user's, or STS temporary ones (with
   * `sessionToken`). With them the tab joins the mesh as a guest with that
   * user's rights (its node admits it after a SigV4-signed request; it is
   * given no cluster key), and the worker answers the page's unsigned
   * requests with those rights. Without credentials, the worker keeps those
   * an earlier page of the origin gave it (and its gateway).
   */
  accessKeyId?: string
  secretAccessKey?: string
  sessionToken?: string
  /**
   * Without credentials: make the worker forget any an earlier page gave it
   * (a console logging out), so one user's keys do not outlive its session;
   * until a page gives keys again, the worker answers no unsigned request
   * (AccessDenied), since IndexedDB may hold copies read with that user's
   * rights.
   */
  forgetCredentials?: boolean
  /** Join the mesh as a page node (default: when credentials are given). */
  join?: boolean
  /** Where to ask to join, and where the tab's writes go (default: this page's origin, which a node serves). */
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
  /**
   * How the tab may reach its node, in order of preference: 'websockets'
   * (ws, or wss for an https page) and 'webrtc-direct'. Default both,
   * WebSockets first; an https page whose node has no certificate it trusts
   * joins over WebRTC-direct.
   */
  transports?: NodeTransport[]
  /** Gives up waiting for the worker (and the join) after this long, ms. */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface Registration {
  registration: ServiceWorkerRegistration
  /**
   * The tab's mesh node (a guest of the mesh), while it runs one. One tab of
   * an origin runs the node at a time (the first to register; the service
   * worker answers every tab through it): in the others it is undefined
   * until `nodeStarted` resolves.
   */
  node?: PageNode
  /**
   * In a tab that registered while another tab of the origin ran the node:
   * resolves with this tab's node once that tab closes or stops and this one
   * has taken over. A join that fails then (the node out of reach) is tried
   * again until it works; it rejects with a JoinError only when the node
   * refuses the tab, and with an AbortError when the tab stops first.
   */
  nodeStarted?: Promise<PageNode>
  /** While a take-over's join is being tried again: why the last try failed (undefined once it joins). */
  takeOverError?: string
  /** Who the tab speaks for, as its node admitted it. */
  principal?: { kind: 'root' | 'user', user?: string, accessKeyId: string }
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
 * with credentials, the tab also joins the mesh as a guest, and the worker
 * answers through it with that user's rights.
 */
export async function register (options: RegisterOptions = {}): Promise<Registration> {
  if (!('serviceWorker' in navigator)) throw new ServiceWorkerUnavailableError('This browser has no service workers here (they need https:// or localhost, and no private mode in some browsers).')
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(options.timeoutMs ?? REGISTER_TIMEOUT_MS)])
  const registration = await navigator.serviceWorker.register(options.serviceWorkerUrl ?? '/s3mesh-sw.js', { scope: '/' })
  await until(signal, async () => {
    if (navigator.serviceWorker.controller !== null) return
    const controlled = new Promise<void>(resolve => { navigator.serviceWorker.addEventListener('controllerchange', () => { resolve() }, { once: true }) })
    // A page loaded past its worker (a hard reload: Shift-Reload) stays uncontrolled though the worker is active, and
    // no install or activate comes to claim it: the worker is asked to.
    registration.active?.postMessage({ type: 's3mesh:claim' })
    await controlled
  })
  const { accessKeyId, secretAccessKey, sessionToken } = options
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    // Forgotten, the worker holds no keys: requests signed by anyone go to the node, which decides them.
    // And nothing unsigned is answered from IndexedDB, which may hold copies read with the forgotten user's rights.
    if (options.forgetCredentials === true) await configure({ loggedOut: true }, signal)
    return { registration, stop: async () => {} }
  }
  const credentials = { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) }
  const gateway = options.gateway === false ? undefined : options.gateway ?? location.origin
  const endpoint = options.joinEndpoint ?? location.origin
  // The tab's libp2p identity first: the node admits that peer id, and no other.
  const privateKey = await generateKeyPair('Ed25519')
  const peer = peerIdFromPrivateKey(privateKey).toString()
  const client = s3Signer(credentials)
  const admit = async (s: AbortSignal): Promise<BrowserJoinInfo | undefined> => {
    const res = await client.fetch(`${endpoint}/_s3mesh/v1/browser-join?peer=${encodeURIComponent(peer)}`, { signal: s, headers: { [TO_NODE_HEADER]: '1' } })
    // A node without a mesh (--no-mesh) has nothing to join.
    if (res.status === 501) return undefined
    // A 4xx is the node's word (wrong keys, a disabled user, a session over); a 5xx or 429 is a node (or a proxy in
    // front of it) not ready to answer, which a take-over tries again.
    const refused = res.status >= 400 && res.status < 500 && res.status !== 429
    if (!res.ok) throw new (refused ? JoinRefusedError : JoinError)(`The node ${refused ? 'refused to let this tab join' : 'could not let this tab join'} (${res.status}): ${await res.text()}`)
    return await res.json() as BrowserJoinInfo
  }
  // Not joining, the worker still learns its user's rights from an admission when the node gives one; without one
  // (a node without a mesh, keys the node does not know) it checks signatures against the keys and nothing more.
  const info = options.join === false ? await admit(signal).catch(() => undefined) : await admit(signal)
  // Every tab of the origin is answered through one page node and the keys the worker was told last: while a tab of
  // other keys is registered this one is refused, before the worker is told anything, and it holds a lock that says
  // so from here until it stops (node-lock.ts). Without the Web Locks API (an old browser) no tab is refused, and every
  // tab that joins runs a node, as before there was one per origin.
  const locks = (navigator as Navigator & { locks?: LockManager }).locks
  const claim = locks === undefined ? undefined : await claimTabUser(locks, tabUserOf(accessKeyId, info?.principal), signal)
  const unclaim = async (): Promise<void> => { await claim?.release() }
  /** The request for the node's lock (a stop, or a failed start, waits until it is let go). */
  let nodeLock: Promise<unknown> | undefined
  try {
    return await registered(info)
  } catch (err) {
    await nodeLock?.catch(() => {})
    await unclaim()
    throw err
  }

  async function registered (info: BrowserJoinInfo | undefined): Promise<Registration> {
    if (info === undefined) {
      await configure({ credentials, ...(gateway === undefined ? {} : { gateway }) }, signal)
      return { registration, stop: unclaim }
    }
    const tell = async (joined: BrowserJoinInfo, s = signal): Promise<void> => { await configure({ credentials, admission: joined.admission, writers: writersOf(joined, endpoint), ...(gateway === undefined ? {} : { gateway }) }, s) }
    // The worker answers with this user's rights even with no page node open (one user's keys an origin: the last tab
    // to register, take over the node or renew its admission, all of one key).
    await tell(info)
    if (options.join === false) return { registration, principal: info.principal, stop: unclaim }
    const result: Registration = { registration, principal: info.principal, stop: async () => {} }
    /** Ends this tab's node, or its wait to run one. */
    const stopping = new AbortController()
    let release = (): void => {}
    const released = new Promise<void>(resolve => { release = resolve })
    /** A take-over's start under way (stop() waits for it). */
    let starting: Promise<unknown> | undefined
    /** Stops the node this tab runs (undefined while it runs none). */
    let running: (() => Promise<void>) | undefined
    result.stop = async () => {
      stopping.abort()
      await starting?.catch(() => {})
      const stop = running
      running = undefined
      delete result.node
      try {
        await stop?.()
      } finally {
        release()
        // The locks are let go before this settles (also when the node's stop failed): this tab registering again at
        // once, as another user, is not refused by its own.
        await nodeLock?.catch(() => {})
        await unclaim()
      }
    }
    /** Runs the tab's page node, with `joined`'s admission or (taking over from another tab, later) a new one. */
    const run = async (joined: BrowserJoinInfo | undefined, s: AbortSignal): Promise<void> => {
      const now = joined ?? await admit(s)
      if (now === undefined) throw new JoinRefusedError('The node no longer has a mesh to join.')
      if (joined === undefined) await tell(now, s)
      const started = await startNode({ info: now, privateKey, credentials, endpoint, admit, tell, allowLocalAddresses: options.allowLocalAddresses, transports: options.transports, signal: s })
      if (stopping.signal.aborted) { await started.stop(); stopping.signal.throwIfAborted() }
      running = started.stop
      result.node = started.node
    }
    if (locks === undefined) {
      await run(info, signal)
      return result
    }
    const first = await new Promise<boolean>((resolve, reject) => {
      nodeLock = locks.request(PAGE_NODE_LOCK, { ifAvailable: true }, async lock => {
        if (lock === null) { resolve(false); return }
        try { await run(info, signal) } catch (err) { reject(err); return }
        resolve(true)
        await released
      })
      nodeLock.catch(reject)
    })
    if (first) return result
    // Another tab of this origin runs the node (two would fetch, announce and sweep the same IndexedDB), for the same
    // keys: this one takes over once that tab closes or stops (the browser releases its lock). A join that fails (the
    // node out of reach) is tried again, holding the lock, until one works, the node refuses (the lock then goes to the
    // next tab waiting) or this tab stops.
    result.nodeStarted = new Promise<PageNode>((resolve, reject) => {
      nodeLock = locks.request(PAGE_NODE_LOCK, { signal: stopping.signal }, async () => {
        for (let waitMs = TAKE_OVER_RETRY_MS; ; waitMs = Math.min(waitMs * 2, TAKE_OVER_RETRY_MAX_MS)) {
          starting = run(undefined, AbortSignal.any([stopping.signal, AbortSignal.timeout(options.timeoutMs ?? REGISTER_TIMEOUT_MS)]))
          try {
            await starting
            break
          } catch (err) {
            if (stopping.signal.aborted) { reject(stopping.signal.reason); return }
            if (err instanceof JoinRefusedError) { reject(err); return }
            result.takeOverError = err instanceof Error ? err.message : String(err)
            console.warn(`s3mesh: this tab could not take over the mesh node (${result.takeOverError}); trying again in ${waitMs / 1000} s`)
            // A stop ends the wait at once (the lock goes to the next tab waiting).
            await pause(waitMs, stopping.signal)
            if (stopping.signal.aborted) { reject(stopping.signal.reason); return }
          } finally {
            starting = undefined
          }
        }
        delete result.takeOverError
        resolve(result.node!)
        await released
      })
      nodeLock.catch(reject)
    })
    // Not left unhandled when no one awaits it (a stop before it took over rejects it).
    result.nodeStarted.catch(() => {})
    return result
  }
}

/** The node answered a join with a refusal (the user disabled, the session over, no mesh): not tried again. */
class JoinRefusedError extends JoinError {}

/** The first wait before a tab taking over the node tries its join again, ms (doubled at each failure). */
const TAKE_OVER_RETRY_MS = 2_000
/** The longest such wait, ms. */
const TAKE_OVER_RETRY_MAX_MS = 30_000
/** How long register() (and a take-over's join) may take by default, ms (RegisterOptions.timeoutMs). */
const REGISTER_TIMEOUT_MS = 30_000

interface StartNodeOptions {
  info: BrowserJoinInfo
  privateKey: Ed25519PrivateKey
  credentials: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  endpoint: string
  /** Asks the node for a new admission (undefined: the node has no mesh). */
  admit: (s: AbortSignal) => Promise<BrowserJoinInfo | undefined>
  /** Tells the service worker the admission it answers with. */
  tell: (info: BrowserJoinInfo, s?: AbortSignal) => Promise<void>
  allowLocalAddresses: boolean | undefined
  transports: NodeTransport[] | undefined
  signal: AbortSignal
}

/** Starts the tab's page node, renews its admission as the node says, and answers the service worker through it until stopped. */
async function startNode (o: StartNodeOptions): Promise<{ node: PageNode, stop: () => Promise<void> }> {
  const { info, privateKey, credentials, endpoint, admit, tell, signal } = o
  // The page decides its own requests with its admission's records and the same evaluation as its node, until the next one.
  const handlerFor = (admission: string): S3Handler => ownHandler(node.store, admission, credentials)
  // The tab's writes: S3 requests to its node (a storage node the join names, when it was a relay's), signed here, past the worker.
  const endpoints = writersOf(info, endpoint)
  const remote = new RemoteS3({ endpoints, ...credentials, timeoutMs: 30_000, retryAfterMs: 0, blobBodies: true, noHttpCache: true, headers: { [TO_NODE_HEADER]: '1' } })
  // A write's new entry comes with its answer from a node of this page's origin (the one the tab follows, as trusted as
  // the page itself); from a relay's storage nodes elsewhere the tab asks the node it follows.
  const askEntries = endpoints.every(e => new URL(e, location.href).origin === location.origin)
  const writer = new GatewayStore({ remote, cacheTtlMs: 0, cacheMaxObjectBytes: 0, replayableBytes: PAGE_WRITE_BUFFER_BYTES, askEntries })
  const node = await startPageNode({
    privateKey, writer,
    relays: info.relays,
    cluster: info.cluster,
    admission: fromBase64(info.admission),
    allowLocalAddresses: o.allowLocalAddresses ?? isLocalHost(location.hostname),
    ...(o.transports === undefined ? {} : { transports: o.transports }),
    signal,
  }).catch((err: unknown) => { throw new JoinError(`This tab could not join the mesh: ${err instanceof Error ? err.message : String(err)}`) })
  // Renewed at the time the node says (half the admission's life), and again 5 s after a failure to reach the node;
  // not after the node refuses (the user disabled, the session over): the tab then serves with what it holds.
  let renewal: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const schedule = (at: number): void => {
    if (stopped) return
    renewal = setTimeout(() => {
      admit(AbortSignal.timeout(15_000)).then(async next => {
        if (next === undefined || stopped) return
        handler = handlerFor(next.admission)
        admission = next.admission
        reads.renewed()
        await node.renew(fromBase64(next.admission))
        // The worker too (its own time limit: register's is long past); not once stopped (a log out), when the keys
        // may be forgotten or another user's.
        if (stopped) return
        await tell(next, AbortSignal.timeout(15_000)).catch(() => {})
        schedule(next.renewAt)
      }).catch((err: unknown) => { if (!(err instanceof JoinError)) schedule(Date.now() + 5000) })
    }, Math.max(1000, at - Date.now()))
  }
  schedule(info.renewAt)
  let handler = handlerFor(info.admission)
  let admission = info.admission
  // The worker answers the reads of what the tab holds current by itself, once the page has answered one.
  const reads = new CurrentReads(node.guest, () => admission, message => { navigator.serviceWorker.controller?.postMessage(message) })
  const unserve = serveServiceWorker(async (request, requestInfo) => await handler(request, requestInfo), reads)
  return {
    node,
    stop: async () => { stopped = true; clearTimeout(renewal); unserve(); reads.stop(); await node.stop() },
  }
}

/** Bodies the page buffers before sending a write to its node (Chromium streams request bodies only over HTTP/2). */
const PAGE_WRITE_BUFFER_BYTES = 256 * 1024 * 1024

/** Sends the worker its configuration and waits until it has stored it. */
/** Where a joined tab's writes go: the storage nodes a relay named, else the S3 endpoint of the node it joined through. */
function writersOf (info: BrowserJoinInfo, endpoint: string): string[] {
  return info.writers !== undefined && info.writers.length > 0 ? info.writers : [`${endpoint.replace(/\/$/, '')}${S3_BASE_PATH}`]
}

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
