import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, type RunningServer } from '../../src/node/server.js'
import { ACCESS_KEY, SECRET_KEY } from '../helpers/server-process.js'
import { nodeRunner } from './node-runner.js'
import { objectStoreSuite } from './object-store-suite.js'

// The store the S3 handler of every mesh node uses: MeshStore over the
// node's disk store, with the catalog, its journal and gossip running (a node
// alone in its mesh). A restart is a real one: the node is closed and started
// again on the same folder, and must come back with everything in place.
objectStoreSuite('MeshStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-meshstore-'))
  const env = { S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY, S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  const start = async (): Promise<RunningServer> => await startServer({
    dataDir: root, host: '127.0.0.1', port: 0, fsync: false, env,
    mesh: { host: '127.0.0.1', port: 0, join: [], cluster: 'compliance', preset: 'local', version: 'test' },
  })
  let server = await start()
  return {
    store: server.mesh!.node.store,
    reopen: async () => {
      await server.close()
      server = await start()
      return server.mesh!.node.store
    },
    cleanup: async () => { await server.close(); await rm(root, { recursive: true, force: true }) },
  }
}, nodeRunner, { noCopies: 'the mesh makes its own copies (LocalCopies); a client of its store cannot' })
