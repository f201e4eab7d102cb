/** The README's tables from bench/results/browser.json (see bench/figures.ts). */
import { showSpread, type Spread } from '../lib/stats.js'
import { table, times } from '../lib/table.js'

interface Doc {
  get: Record<string, { workerOpsPerSec: Spread, rawIndexedDbOpsPerSec: Spread, ratio: Spread, floorOpsPerSec?: Spread, floorOfRaw?: Spread, ofFloor?: Spread, joinedOpsPerSec?: Spread, joinedRawIndexedDbOpsPerSec?: Spread, joinedRatio?: Spread }>
  latency: { headMs: Spread, get1KiBMs: Spread, rawIndexedDb1KiBMs: Spread }
  upload: { objects: number, concurrency?: number, pageMBps: Spread, awsCliMBps: Spread, ratio: Spread, cpuMsPerMiB?: { page: Record<string, Spread>, awsCli: Record<string, Spread>, floor?: Record<string, Spread> }, floorMBps?: Spread, floorRatio?: Spread, ofFloor?: Spread }
  writes?: { size: number, meshMs: Spread, floorMs: Spread, ratio: Spread }
  hashing: Record<string, { wasmMBps: Spread, jsMBps: Spread, speedup: Spread }>
  scoped: { gets: number, rootJoinMs: Spread, scopedJoinMs: Spread, joinRatio: Spread, rootGetMs: Spread, scopedGetMs: Spread, getRatio: Spread }
}

const NAMES: Record<string, string> = { md5: 'MD5', sha256: 'SHA-256', crc32: 'CRC-32' }

export const tables = {
  paths: (doc: Doc): string => table(['', 'through s3mesh', 'baseline', 'ratio'], [
    ...Object.entries(doc.get).flatMap(([name, g]) => [
      [`GET ${name}: service worker from IndexedDB vs raw IndexedDB read in the page (ops/s)`, showSpread(g.workerOpsPerSec), showSpread(g.rawIndexedDbOpsPerSec), times(g.ratio)],
      ...g.floorOpsPerSec === undefined || g.floorOfRaw === undefined || g.ofFloor === undefined
        ? []
        : [
            [`GET ${name}, the floor: a worker answering from memory vs raw IndexedDB read in the page (ops/s)`, showSpread(g.floorOpsPerSec), showSpread(g.rawIndexedDbOpsPerSec), times(g.floorOfRaw)],
            [`GET ${name}: service worker from IndexedDB vs the floor (ops/s)`, showSpread(g.workerOpsPerSec), showSpread(g.floorOpsPerSec), times(g.ofFloor)],
          ],
      ...g.joinedOpsPerSec === undefined || g.joinedRawIndexedDbOpsPerSec === undefined || g.joinedRatio === undefined
        ? []
        : [[`GET ${name} in a tab that joined: service worker from the copy its page node marked current vs raw IndexedDB read in that page (ops/s)`, showSpread(g.joinedOpsPerSec), showSpread(g.joinedRawIndexedDbOpsPerSec), times(g.joinedRatio)]],
    ]),
    [`upload 1 MiB x ${doc.upload.objects} from a page into the mesh${doc.upload.concurrency === undefined ? '' : `, ${doc.upload.concurrency} at a time,`} vs aws-cli into the node (MB/s)`, showSpread(doc.upload.pageMBps), showSpread(doc.upload.awsCliMBps), times(doc.upload.ratio)],
    ...doc.upload.floorMBps === undefined || doc.upload.floorRatio === undefined || doc.upload.ofFloor === undefined
      ? []
      : [
          ['upload, the floor: the page\'s fetch of the same Blobs straight to the node vs aws-cli (MB/s)', showSpread(doc.upload.floorMBps), showSpread(doc.upload.awsCliMBps), times(doc.upload.floorRatio)],
          ['upload from a page into the mesh vs the floor (MB/s)', showSpread(doc.upload.pageMBps), showSpread(doc.upload.floorMBps), times(doc.upload.ofFloor)],
        ],
  ]),
  uploadCpu: (doc: Doc): string => {
    const cpu = doc.upload.cpuMsPerMiB
    if (cpu === undefined) return ''
    const floor = cpu.floor ?? {}
    const kinds = [...new Set([...Object.keys(cpu.page), ...Object.keys(floor), ...Object.keys(cpu.awsCli)])].filter(k => k !== 'total').sort()
    const show = (s: Spread | undefined): string => s === undefined ? '' : showSpread(s)
    return table(['CPU ms per MiB uploaded', 'a page into the mesh', 'the page straight to the node (the floor)', 'aws-cli into the node'], [
      ...kinds.map(k => [k, show(cpu.page[k]), show(floor[k]), show(cpu.awsCli[k])]),
      ['all of them', show(cpu.page.total), show(floor.total), show(cpu.awsCli.total)],
    ])
  },
  latency: (doc: Doc): string => table(['p50 ms', 'through the service worker', 'raw IndexedDB read of 1 KiB in the page'], [
    ['HEAD', showSpread(doc.latency.headMs), showSpread(doc.latency.rawIndexedDb1KiBMs)],
    ['GET 1 KiB', showSpread(doc.latency.get1KiBMs), showSpread(doc.latency.rawIndexedDb1KiBMs)],
  ]),
  writes: (doc: Doc): string => doc.writes === undefined
    ? ''
    : table(['p50 ms, one at a time', 'from the page into the mesh', 'from the page straight to the node', 'the mesh\'s time over the node\'s'], [
      [`PUT ${doc.writes.size / 1024} KiB`, showSpread(doc.writes.meshMs), showSpread(doc.writes.floorMs), times(doc.writes.ratio)],
    ]),
  scoped: (doc: Doc): string => table(['ms', 'a user\'s tab (one bucket)', 'a root tab', 'root\'s time / the user\'s'], [
    ['join: register() in a fresh context (median of three a run)', showSpread(doc.scoped.scopedJoinMs), showSpread(doc.scoped.rootJoinMs), times(doc.scoped.joinRatio)],
    [`GET 64 KiB fetched through the mesh (p50 of ${doc.scoped.gets})`, showSpread(doc.scoped.scopedGetMs), showSpread(doc.scoped.rootGetMs), times(doc.scoped.getRatio)],
  ]),
  hashing: (doc: Doc): string => table(['8 MiB in the page (MB/s)', 'WebAssembly (hash-wasm)', 'pure JavaScript', 'speed-up'],
    Object.entries(doc.hashing).map(([a, h]) => [NAMES[a] ?? a, showSpread(h.wasmMBps), showSpread(h.jsMBps), times(h.speedup)])),
}
