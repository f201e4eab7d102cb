/**
 * s3mesh for browsers and service workers: `register()` puts the s3mesh
 * service worker in charge of `/s3/...` on this origin (S3 over IndexedDB);
 * the S3 handler and stores are here for apps that host it themselves.
 */
export { register, JoinError, ServiceWorkerUnavailableError, type RegisterOptions, type Registration } from './register.js'
export { OtherUserError } from './node-lock.js'
export { startPageNode, type PageNode, type PageNodeOptions } from './page-node.js'
export { IdbStore, type IdbStoreOptions } from './idb-store.js'
export { createS3Handler, type S3Handler, type S3HandlerOptions } from '../s3-shim/index.js'
export { MemoryStore } from '../core/memory-store.js'
export { webHashes } from '../core/hashes.js'
export { browserHashes, wasmHashes } from './wasm-hashes.js'
export { S3Error } from '../core/errors.js'
export type { ObjectStore, ObjectInfo, ObjectMetadata } from '../core/object-store.js'
