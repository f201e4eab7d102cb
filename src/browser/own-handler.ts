import { tabAccess } from '../core/access/admission.js'
import type { ObjectStore } from '../core/object-store.js'
import { createS3Handler, type S3Handler } from '../s3-shim/index.js'
import { browserHashes } from './wasm-hashes.js'
import { S3_BASE_PATH, type WorkerConfig } from './worker-config.js'

export const fromBase64 = (text: string): Uint8Array => Uint8Array.from(atob(text), c => c.charCodeAt(0))

/**
 * The S3 handler a tab answers its own page with (the page node's, and the
 * service worker's when no page node is open): requests decided as the node
 * decides them, with the access records and principal of the tab's latest
 * admission (base64). Only this origin's pages reach it, so an unsigned
 * request is the page's, with its credentials' rights; a navigation can come
 * from any site (a link, a form), so through one it may only read.
 */
export function ownHandler (store: ObjectStore, admission: string, credentials: NonNullable<WorkerConfig['credentials']>): S3Handler {
  const own = tabAccess(fromBase64(admission), credentials)
  return createS3Handler({
    store, basePath: S3_BASE_PATH, sandboxObjects: true, hashes: browserHashes, access: own.access, serveAccessApi: false,
    unsignedAs: request => request.mode !== 'navigate' || request.method === 'GET' || request.method === 'HEAD' ? own.principal : undefined,
  })
}
