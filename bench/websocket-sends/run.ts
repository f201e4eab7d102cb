/**
 * bench/websocket-sends: the WebSocket transport members and tabs use
 * (joinedWebSockets, src/core/wire/joined-websockets.ts: each send one
 * WebSocket message) against @libp2p/websockets as it ships (each piece of
 * each Noise message a message of its own), in the same runs. Two libp2p
 * nodes in this process, both on the transport measured, over loopback with
 * Noise and yamux; the listener pushes SIZE bytes on a stream the other
 * opened (256 KiB sends, honouring drain), as a node sends to a tab, and the
 * dialler counts them. Per transport: MB/s, and this
 * process's CPU per MiB (both ends' work: sending, framing, receiving).
 * Each run measures both, the order alternating between runs, after an
 * untimed round of each. Node only (a node's `ws` server sending to Node's
 * own WebSocket client): what it saves a tab in Chromium is not measured
 * here (bench:transports measures a tab's GET over WebSockets end to end).
 *
 * JSON (kept in bench/results/websocket-sends.json), then a one-line summary.
 *
 *   npm run bench:websocket-sends              # 64 MiB, 5 runs
 *   npm run bench:websocket-sends -- --quick
 */
import { randomBytes } from 'node:crypto'
import type { Libp2p, Stream } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { joinedWebSockets } from '../../src/core/wire/joined-websockets.js'
import { meshMuxer } from '../../src/core/wire/mesh-muxer.js'
import { noiseCrypto } from '../../src/node/noise-crypto.js'
import { benchOptions, keep } from '../lib/keep.js'
import { showSpread, spread } from '../lib/stats.js'

const options = benchOptions(5)
const SIZE = (options.quick ? 8 : 64) * 1024 * 1024
const SEND = 256 * 1024
const transports = { joined: joinedWebSockets, stock: webSockets } as const
type Name = keyof typeof transports

async function node (name: Name, listen: string[]): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen },
    transports: [transports[name]()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [meshMuxer()],
    connectionGater: { denyDialMultiaddr: () => false },
  })
}

/** SIZE bytes from one node to the other on `name`, twice (the first warms up): MB/s and CPU ms per MiB of the second. */
async function measure (name: Name, bytes: Uint8Array): Promise<{ MBps: number, cpuMsPerMiB: number }> {
  // The listener sends, as a node does to the tab that dialled it (a client would mask every byte it sends).
  const [sender, receiver] = [await node(name, ['/ip4/127.0.0.1/tcp/0/ws']), await node(name, [])]
  try {
    const opened = new Promise<Stream>(resolve => { void sender.handle('/bench-source/1.0.0', resolve) })
    const inbound = await receiver.dialProtocol(sender.getMultiaddrs()[0]!, '/bench-source/1.0.0')
    inbound.send(new Uint8Array([1]))
    const stream = await opened
    let got = 0
    let done: (() => void) | undefined
    inbound.addEventListener('message', e => { got += e.data.byteLength; if (got >= SIZE) done?.() })
    let result = { MBps: 0, cpuMsPerMiB: 0 }
    for (let round = 0; round < 2; round++) {
      got = 0
      const arrived = new Promise<void>(resolve => { done = resolve })
      const cpu = process.cpuUsage()
      const start = performance.now()
      for (let at = 0; at < SIZE; at += SEND) {
        if (!stream.send(bytes.subarray(at, at + SEND))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
      }
      await arrived
      const ms = performance.now() - start
      const used = process.cpuUsage(cpu)
      result = { MBps: SIZE / ms / 1000, cpuMsPerMiB: (used.user + used.system) / 1000 / (SIZE / 1024 / 1024) }
    }
    await stream.close()
    return result
  } finally {
    await sender.stop()
    await receiver.stop()
  }
}

const bytes = randomBytes(SIZE)
const runs: Record<Name, Array<{ MBps: number, cpuMsPerMiB: number }>> = { joined: [], stock: [] }
const ratios: { MBps: number[], cpu: number[] } = { MBps: [], cpu: [] }
// Untimed, once each: the process warms up (code compiled, buffers grown) before the first run's first variant.
for (const name of Object.keys(transports) as Name[]) await measure(name, bytes)
for (let run = 0; run < options.runs; run++) {
  const order: Name[] = run % 2 === 0 ? ['joined', 'stock'] : ['stock', 'joined']
  const r = {} as Record<Name, { MBps: number, cpuMsPerMiB: number }>
  for (const name of order) r[name] = await measure(name, bytes)
  runs.joined.push(r.joined)
  runs.stock.push(r.stock)
  ratios.MBps.push(r.joined.MBps / r.stock.MBps)
  ratios.cpu.push(r.joined.cpuMsPerMiB / r.stock.cpuMsPerMiB)
}

const summary = Object.fromEntries((Object.keys(runs) as Name[]).map(name => [name, {
  MBps: spread(runs[name].map(x => x.MBps), 1),
  cpuMsPerMiB: spread(runs[name].map(x => x.cpuMsPerMiB), 2),
}])) as Record<Name, { MBps: ReturnType<typeof spread>, cpuMsPerMiB: ReturnType<typeof spread> }>
const joinedOverStock = { MBps: spread(ratios.MBps), cpu: spread(ratios.cpu) }
await keep('websocket-sends', options, { bytes: SIZE, sendBytes: SEND, ...summary, joinedOverStock },
  `${SIZE / 1024 / 1024} MiB over WebSockets (Noise, yamux, loopback): joined ${showSpread(summary.joined.MBps, ' MB/s')}, ${showSpread(summary.joined.cpuMsPerMiB, ' ms')} CPU per MiB; stock @libp2p/websockets ${showSpread(summary.stock.MBps, ' MB/s')}, ${showSpread(summary.stock.cpuMsPerMiB, ' ms')}; joined over stock (within a run): ${showSpread(joinedOverStock.MBps, 'x')} the rate, ${showSpread(joinedOverStock.cpu, 'x')} the CPU (median and range of ${options.runs} runs)`)
process.exit(0)
