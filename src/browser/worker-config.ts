import { createStore, get, set } from 'idb-keyval'

/** Where the service worker answers S3 requests. */
export const S3_BASE_PATH = '/s3'

/** What the page tells its service worker, kept in IndexedDB (the worker may be stopped and started at any time). */
export interface WorkerConfig {
  /** Credentials signed requests are checked against; unsigned same-origin requests need none. */
  credentials?: { accessKeyId: string, secretAccessKey: string }
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
