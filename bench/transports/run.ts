/**
 * bench/transports: how a Chromium tab reaches its node, WebSockets against
 * WebRTC-direct, in the same run: the time register() takes to join (page
 * key, signed join, dial, first feed), then a GET of a 16 MiB object the tab
 * does not hold, fetched from the node over that connection, verified and
 * kept in IndexedDB (MB/s as the page sees it), and the node's CPU time for
 * that GET. WebTransport is not measured: a Node node cannot serve it
 * (js-libp2p dials it from browsers only; Node has no HTTP/3).
 *
 * The winner (the lower node CPU per MiB, unless the other is over 10%
 * faster for the page) is register()'s first choice (DEFAULT_NODE_TRANSPORTS);
 * the other is its fallback. Each round joins once per transport in a fresh
 * browser context, alternating which goes first.
 *
 * JSON (kept in bench/results/transports.json), then a one-line summary.
 *
 *   npm run bench:transports
 *   npm run bench:transports -- --runs 5   # rounds (default 5)
 *   npm run bench:transports -- --quick
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { launchChromium } from '../../test/helpers/chromium.js'
import { signer } from '../../test/helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess } from '../../test/helpers/server-process.js'
import { benchOptions, keep } from '../lib/keep.js'
import { showSpread, spread } from '../lib/stats.js'

const options = benchOptions(5)
const SIZE = (options.quick ? 2 : 16) * 1024 * 1024
const TRANSPORTS = ['websockets', 'webrtc-direct'] as const
type Transport = typeof TRANSPORTS[number]

/** The process's CPU time so far (user + system), seconds. */
async function cpuSeconds (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const node = await startServerProcess({ args: ['--replicas', '1'] })
const browser = await launchChromium()
try {
  const sign = signer()
  await sign.fetch(`${node.url}/transports`, { method: 'PUT' })
  const readings: Record<Transport, { joinMs: number[], mbPerS: number[], cpuMsPerMiB: number[] }> = {
    websockets: { joinMs: [], mbPerS: [], cpuMsPerMiB: [] },
    'webrtc-direct': { joinMs: [], mbPerS: [], cpuMsPerMiB: [] },
  }
  for (let r = 0; r < options.runs; r++) {
    const order: Transport[] = r % 2 === 0 ? ['websockets', 'webrtc-direct'] : ['webrtc-direct', 'websockets']
    for (const transport of order) {
      const key = `obj-${r}-${transport}`
      if ((await sign.fetch(`${node.url}/transports/${key}`, { method: 'PUT', body: randomBytes(SIZE) })).status !== 200) throw new Error('PUT failed')
      const context = await browser.newContext()
      try {
        await context.addInitScript('globalThis.__name = f => f')
        const page = await context.newPage()
        await page.goto(node.consoleUrl!)
        const joined = await page.evaluate(async ([accessKeyId, secretAccessKey, t]) => {
          const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
          const started = performance.now()
          const tab = await register({ accessKeyId, secretAccessKey, transports: [t as 'websockets' | 'webrtc-direct'] })
          ;(globalThis as { s3meshTab?: unknown }).s3meshTab = tab
          return { ms: performance.now() - started, remote: tab.node!.libp2p.getConnections().map(c => c.remoteAddr.toString()) }
        }, [ACCESS_KEY, SECRET_KEY, transport])
        const expected = transport === 'websockets' ? '/ws/' : '/webrtc-direct/'
        if (!joined.remote.every(a => a.includes(expected))) throw new Error(`${transport}: the tab's connections are ${joined.remote.join(' ')}`)
        const cpuBefore = await cpuSeconds(node.child.pid!)
        const got = await page.evaluate(async k => {
          const started = performance.now()
          const res = await fetch(`/s3/transports/${k}`)
          const bytes = (await res.arrayBuffer()).byteLength
          return { status: res.status, bytes, ms: performance.now() - started }
        }, key)
        const cpu = await cpuSeconds(node.child.pid!) - cpuBefore
        if (got.status !== 200 || got.bytes !== SIZE) throw new Error(`${transport}: GET answered ${got.status} with ${got.bytes} bytes`)
        readings[transport].joinMs.push(joined.ms)
        readings[transport].mbPerS.push(SIZE / 1e6 / (got.ms / 1000))
        readings[transport].cpuMsPerMiB.push(cpu * 1000 / (SIZE / 1024 / 1024))
        process.stderr.write(`transports: round ${r + 1}, ${transport}: join ${joined.ms.toFixed(0)} ms, GET ${(SIZE / 1e6 / (got.ms / 1000)).toFixed(1)} MB/s, node CPU ${(cpu * 1000).toFixed(0)} ms\n`)
      } finally {
        await context.close()
      }
    }
  }
  const summary = Object.fromEntries(TRANSPORTS.map(t => [t, {
    joinMs: spread(readings[t].joinMs, 0),
    getMBps: spread(readings[t].mbPerS, 1),
    nodeCpuMsPerMiB: spread(readings[t].cpuMsPerMiB, 1),
  }])) as Record<Transport, { joinMs: ReturnType<typeof spread>, getMBps: ReturnType<typeof spread>, nodeCpuMsPerMiB: ReturnType<typeof spread> }>
  // The GET's rate is bounded by the tab (verifying, IndexedDB) more than by the transport, so the two are near; the
  // node's CPU per byte decides, unless the other transport is more than 10% faster for the page.
  const cheaper: Transport = summary.websockets.nodeCpuMsPerMiB.median <= summary['webrtc-direct'].nodeCpuMsPerMiB.median ? 'websockets' : 'webrtc-direct'
  const other: Transport = cheaper === 'websockets' ? 'webrtc-direct' : 'websockets'
  const winner: Transport = summary[other].getMBps.median > 1.1 * summary[cheaper].getMBps.median ? other : cheaper
  await keep('transports', options, { objectBytes: SIZE, ...summary, winner }, `transports: join ${showSpread(summary.websockets.joinMs, ' ms')} over WebSockets vs ${showSpread(summary['webrtc-direct'].joinMs, ' ms')} over WebRTC-direct; 16 MiB GET ${showSpread(summary.websockets.getMBps, ' MB/s')} vs ${showSpread(summary['webrtc-direct'].getMBps, ' MB/s')}; node CPU ${showSpread(summary.websockets.nodeCpuMsPerMiB, ' ms')} vs ${showSpread(summary['webrtc-direct'].nodeCpuMsPerMiB, ' ms')} per MiB; default: ${winner}`)
} finally {
  await browser.close()
  await node.stop()
}
