/**
 * s3mesh for browsers and service workers. For now: the S3 protocol handler
 * and the in-memory store, so a service worker can answer `/s3/...` with
 * `createS3Handler({ store, basePath: '/s3', ... })`. The IndexedDB store and
 * the page node that joins the mesh come next (see DESIGN.md).
 */
export { createS3Handler, type S3Handler, type S3HandlerOptions } from '../s3-shim/index.js'
export { MemoryStore } from '../core/memory-store.js'
export { webHashes } from '../core/hashes.js'
export { S3Error } from '../core/errors.js'
export type { ObjectStore, ObjectInfo, ObjectMetadata } from '../core/object-store.js'
