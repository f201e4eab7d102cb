import { describe, it } from 'node:test'
import { wasmHashesSuite } from '../shared/wasm-hashes-suite.js'

wasmHashesSuite('Node', { describe, it })
