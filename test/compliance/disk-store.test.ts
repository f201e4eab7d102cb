import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DiskStore } from '../../src/node/disk-store.js'
import { nodeRunner } from './node-runner.js'
import { objectStoreSuite } from './object-store-suite.js'

objectStoreSuite('DiskStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-disk-'))
  let open = await DiskStore.open(root)
  return {
    store: open,
    // A restart: the store is closed first (its databases are held exclusively while it is open, as a node holds them).
    reopen: async () => {
      await open.close()
      open = await DiskStore.open(root)
      return open
    },
    cleanup: async () => {
      await open.close()
      await rm(root, { recursive: true, force: true })
    },
  }
}, nodeRunner)
