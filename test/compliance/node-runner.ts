import { describe, it } from 'node:test'
import type { Runner } from './object-store-suite.js'

/** The compliance suite's runner under node:test. */
export const nodeRunner: Runner = { describe, it, skip: (name, reason) => { it(name, { skip: reason }) } }
