/** The docs' tables from bench/results/cluster-cpu.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table } from '../lib/table.js'

interface Doc {
  nodes: number
  putsPerSecond: number
  meshQuietMsPerS: Spread
  meshBusyMsPerS: Spread
  rawQuietMsPerS: Spread
  rawBusyMsPerS: Spread
  meshMsPerPut: Spread
  rawMsPerMessage: Spread
}

export const tables = {
  cpu: (doc: Doc): string => table(['CPU ms', `${doc.nodes} s3mesh nodes`, `${doc.nodes} raw gossipsub peers`], [
    ['per second, per process, quiet', showSpread(doc.meshQuietMsPerS), showSpread(doc.rawQuietMsPerS)],
    [`per second, per process, ${doc.putsPerSecond} PUT/s (raw: as many messages)`, showSpread(doc.meshBusyMsPerS), showSpread(doc.rawBusyMsPerS)],
    ['per PUT (raw: per message), the whole cluster, beyond quiet', showSpread(doc.meshMsPerPut), showSpread(doc.rawMsPerMessage)],
  ]),
}
