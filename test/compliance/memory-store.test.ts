import { describe, it } from 'node:test'
import { MemoryStore } from '../../src/core/memory-store.js'
import { objectStoreSuite } from './object-store-suite.js'

objectStoreSuite('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }), { describe, it })
