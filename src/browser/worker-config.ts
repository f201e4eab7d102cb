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
}

const configStore = (): ReturnType<typeof createStore> => createStore('s3mesh-config', 'config')

export async function loadWorkerConfig (): Promise<WorkerConfig> {
  return (await get<WorkerConfig>('worker', configStore())) ?? {}
}

export async function saveWorkerConfig (config: WorkerConfig): Promise<void> {
  await set('worker', config, configStore())
}
