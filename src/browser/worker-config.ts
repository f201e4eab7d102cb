import { createStore, get, set } from 'idb-keyval'

/** Where the service worker answers S3 requests. */
export const S3_BASE_PATH = '/s3'

/** A request carrying it goes past the service worker to the network: a tab's own writes to its node. */
export const TO_NODE_HEADER = 'x-s3mesh-to-node'

/** What the page tells its service worker, kept in IndexedDB (the worker may be stopped and started at any time). */
export interface WorkerConfig {
  /** Credentials signed requests are checked against; unsigned same-origin requests need none. */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /**
   * The tab's latest admission, base64: the worker answers the page's
   * unsigned requests with its principal's rights, decided over its records
   * as the node decides. Without one (a page that did not join), requests
   * other than root's go to the node.
   */
  admission?: string
  /**
   * A node's S3 endpoint for what IndexedDB lacks when no page node is open
   * (reads only), signed with `credentials`. A node serves one under /s3/ on
   * its console address, so by default it is the origin that served the page.
   */
  gateway?: string
  /**
   * The S3 endpoints a joined tab's writes go to, in the order to try them:
   * the storage nodes a relay named, else the join endpoint's `/s3`. With no
   * page node open, the worker sends a joined tab's writes there itself.
   * (Unset, as saved by an earlier version: the gateway's, else this origin's.)
   */
  writers?: string[]
  /**
   * Set when a page made the worker forget its keys (a log out): IndexedDB
   * may hold copies read with that user's rights, so, until a page gives keys
   * again, the worker answers no unsigned request from it (AccessDenied)
   * rather than serve it as an origin that never had a user.
   */
  loggedOut?: boolean
}

/** The database holding it, opened once (each idb-keyval store opens its own connection). */
let configStore: ReturnType<typeof createStore> | undefined
const store = (): ReturnType<typeof createStore> => (configStore ??= createStore('s3mesh-config', 'config'))

/**
 * The configuration as last read or saved. Only the service worker reads and
 * writes it (the page sends it there), so after the first read it answers
 * from memory: every request needs it, and a read of IndexedDB costs a
 * request a millisecond or more. A worker the browser stopped starts empty
 * and reads it again; while a new version of the worker takes over, the old
 * one may be sent a change, so a save tells every worker of the origin to
 * read it again.
 */
let current: Promise<WorkerConfig> | undefined
let changes: BroadcastChannel | undefined
const changed = (): BroadcastChannel => {
  if (changes === undefined) {
    changes = new BroadcastChannel('s3mesh-config')
    changes.onmessage = () => { current = undefined }
  }
  return changes
}

export async function loadWorkerConfig (): Promise<WorkerConfig> {
  changed()
  current ??= get<WorkerConfig>('worker', store()).then(c => c ?? {}, (err: unknown) => { current = undefined; throw err })
  return await current
}

export async function saveWorkerConfig (config: WorkerConfig): Promise<void> {
  await set('worker', config, store())
  current = Promise.resolve(config)
  changed().postMessage('saved')
}
