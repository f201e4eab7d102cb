export { startServer, type RunningServer, type ServerOptions } from './server.js'
export { DiskStore, type DiskStoreOptions } from './disk-store.js'
export { toNodeListener } from './http-adapter.js'
export { nodeHashes } from './node-hashes.js'
