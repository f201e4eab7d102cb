import { MemoryStore } from '../../src/core/memory-store.js'
import { nodeRunner } from './node-runner.js'
import { objectStoreSuite } from './object-store-suite.js'

objectStoreSuite('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }), nodeRunner, {
  noRestart: 'MemoryStore keeps everything in memory: there is nothing to reopen after a restart',
})
