import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DiskStore } from '../../src/node/disk-store.js'
import { nodeRunner } from './node-runner.js'
import { objectStoreSuite } from './object-store-suite.js'

objectStoreSuite('DiskStore', async () => {
  const root = await mkdtemp(join(tmpdir(), 's3mesh-disk-'))
  return {
    store: await DiskStore.open(root),
    reopen: async () => await DiskStore.open(root),
    cleanup: async () => { await rm(root, { recursive: true, force: true }) },
  }
}, nodeRunner)
