import { wasmHashesSuite } from '../shared/wasm-hashes-suite.js'

declare const describe: (name: string, fn: () => void) => void
declare const it: (name: string, fn: () => Promise<void>) => void

wasmHashesSuite('Chromium', { describe, it })
