import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GatewayStore } from '../../src/gateway/gateway-store.js'
import { MemoryCache } from '../../src/gateway/object-cache.js'
import { RemoteS3 } from '../../src/gateway/remote-s3.js'
import { startServer } from '../../src/node/server.js'
import { ACCESS_KEY, SECRET_KEY } from '../helpers/server-process.js'
import { nodeRunner } from './node-runner.js'
import { objectStoreSuite } from './object-store-suite.js'

// The edge worker's store, over S3 to a real node: the same contract as the
// stores it fronts. Cached (memory, revalidated on every read) so the cache's
// paths run too. Its streaming path (bodies over the replay limit) runs in
// test/integration/edge-worker.test.ts, in workerd.
objectStoreSuite('GatewayStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-gateway-'))
  const server = await startServer({ dataDir: root, host: '127.0.0.1', port: 0, fsync: false, env: { S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY } })
  const open = (): GatewayStore => new GatewayStore({
    remote: new RemoteS3({ endpoints: [server.url], accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, timeoutMs: 10_000, retryAfterMs: 1000 }),
    cache: new MemoryCache(1024 * 1024),
    cacheTtlMs: 0,
    cacheMaxObjectBytes: 64 * 1024,
    replayableBytes: 16 * 1024 * 1024,
  })
  return {
    store: open(),
    reopen: async () => open(),
    cleanup: async () => { await server.close(); await rm(root, { recursive: true, force: true }) },
  }
}, nodeRunner, { noCopies: 'a gateway keeps nothing of its own: replicas are the nodes\' business', noDeleteConditions: 'S3 has no condition for it: the mesh\'s lifecycle runner, its one user, runs on a node' })
