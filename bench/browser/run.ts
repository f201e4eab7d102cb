/**
 * bench/browser: a browser peer in headless Chromium (Debian's, driven by
 * playwright-core) against a real `s3mesh server`, same run:
 *   GET      — 64 KiB and 1 MiB objects through fetch('/s3/...'), served by the
 *              service worker from IndexedDB (a tab with no page node), against
 *              raw IndexedDB reads of the same bytes in the page (the limit)
 *   upload   — 1 MiB objects PUT from a page into the mesh (the tab's page node
 *              stores them in IndexedDB, announces them and pushes them to the
 *              Node node before answering), against aws-cli copying the same
 *              files into the Node node (one `aws s3 cp --recursive`)
 * JSON, then a one-line summary with the ratios.
 *
 *   npm run bench:browser
 *   npm run bench:browser -- --quick
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launchChromium } from '../../test/helpers/chromium.js'
import { AWS_UNSET, awsCliEnv, run } from '../../test/helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess } from '../../test/helpers/server-process.js'
import { round } from '../lib/stats.js'

const quick = process.argv.includes('--quick')
const GETS = { '64KiB': { size: 64 * 1024, runs: quick ? 50 : 300 }, '1MiB': { size: 1024 * 1024, runs: quick ? 20 : 100 } }
const UPLOADS = quick ? 8 : 32

const node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--replicas', '1'] })
const browser = await launchChromium()
try {
  // A tab with a page node (the mesh) and, in another context of the same origin, one without (IndexedDB alone).
  const meshPage = await (await browser.newContext()).newPage()
  await meshPage.goto(node.consoleUrl!)
  await meshPage.evaluate(async ([accessKeyId, secretAccessKey]) => {
    const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
    await register({ accessKeyId, secretAccessKey })
  }, [ACCESS_KEY, SECRET_KEY])

  // GET through the worker vs raw IndexedDB, in a context whose worker has no page node.
  const localContext = await browser.newContext()
  // tsx compiles the functions handed to the page with esbuild's keepNames, which calls a __name helper.
  await localContext.addInitScript('globalThis.__name = f => f')
  const localPage = await localContext.newPage()
  await localPage.goto(node.consoleUrl!)
  const gets = await localPage.evaluate(async (cases) => {
    const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
    await register({ join: false })
    await fetch('/s3/bench', { method: 'PUT' })
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('raw-baseline')
      r.onupgradeneeded = () => { r.result.createObjectStore('v') }
      r.onsuccess = () => { resolve(r.result) }
      r.onerror = () => { reject(r.error) }
    })
    const rawGet = async (key: string): Promise<number> => await new Promise((resolve, reject) => {
      const r = db.transaction('v').objectStore('v').get(key)
      r.onsuccess = () => { resolve((r.result as Uint8Array).byteLength) }
      r.onerror = () => { reject(r.error) }
    })
    const out: Record<string, { worker: number, raw: number }> = {}
    for (const [name, { size, runs }] of Object.entries(cases)) {
      const bytes = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)))
      const body = new Uint8Array(size)
      for (let at = 0; at < size; at += bytes.length) body.set(bytes.subarray(0, Math.min(bytes.length, size - at)), at)
      await fetch(`/s3/bench/${name}`, { method: 'PUT', body })
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('v', 'readwrite')
        tx.objectStore('v').put(body, name)
        tx.oncomplete = () => { resolve() }
        tx.onerror = () => { reject(tx.error) }
      })
      // Alternated, warmed up, so drift in the browser's state hits both alike.
      await (await fetch(`/s3/bench/${name}`)).arrayBuffer()
      await rawGet(name)
      let worker = 0
      let raw = 0
      for (let i = 0; i < runs; i++) {
        let t = performance.now()
        const got = await (await fetch(`/s3/bench/${name}`)).arrayBuffer()
        worker += performance.now() - t
        if (got.byteLength !== size) throw new Error(`read ${got.byteLength} of ${size} bytes`)
        t = performance.now()
        await rawGet(name)
        raw += performance.now() - t
      }
      out[name] = { worker: runs / (worker / 1000), raw: runs / (raw / 1000) }
    }
    return out
  }, GETS)

  // Uploads: from the mesh tab, then aws-cli with the same files.
  const size = 1024 * 1024
  const pageSeconds = await meshPage.evaluate(async ({ count, size }) => {
    await fetch('/s3/uploads', { method: 'PUT' })
    const body = crypto.getRandomValues(new Uint8Array(65536))
    const file = new Uint8Array(size)
    for (let at = 0; at < size; at += body.length) file.set(body, at)
    const t = performance.now()
    for (let i = 0; i < count; i++) {
      file[0] = i
      const res = await fetch(`/s3/uploads/page-${i}.bin`, { method: 'PUT', body: file })
      if (res.status !== 200 || res.headers.get('x-s3mesh-replicas') !== '2') throw new Error(`PUT ${i}: ${res.status} ${res.headers.get('x-s3mesh-replicas') ?? ''}`)
    }
    return (performance.now() - t) / 1000
  }, { count: UPLOADS, size })
  const dir = await mkdtemp(join(tmpdir(), 's3mesh-bench-browser-'))
  let cliSeconds: number
  try {
    for (let i = 0; i < UPLOADS; i++) await writeFile(join(dir, `cli-${i}.bin`), randomBytes(size))
    const env = await awsCliEnv(dir)
    const t = performance.now()
    await run('/usr/bin/aws', ['--endpoint-url', node.url, 's3', 'cp', '--recursive', '--no-progress', '--exclude', 'aws-config', dir, 's3://uploads/cli/'], env, { unset: AWS_UNSET })
    cliSeconds = (performance.now() - t) / 1000
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const mb = UPLOADS * size / 1e6
  const result = {
    bench: 'browser', date: new Date().toISOString(), node: process.version, browser: browser.version(),
    get: Object.fromEntries(Object.entries(gets).map(([name, g]) => [name, { workerOpsPerSec: round(g.worker), rawIndexedDbOpsPerSec: round(g.raw), ratio: round(g.worker / g.raw, 2) }])),
    upload: { objects: UPLOADS, size, pageMBps: round(mb / pageSeconds), awsCliMBps: round(mb / cliSeconds), ratio: round(cliSeconds / pageSeconds, 2) },
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  process.stdout.write('browser: ' + Object.entries(result.get).map(([name, g]) => `GET ${name} via the service worker ${g.workerOpsPerSec}/s vs raw IndexedDB ${g.rawIndexedDbOpsPerSec}/s (${g.ratio}x)`).join('; ') +
    `; upload 1 MiB x ${UPLOADS} from a page into the mesh ${result.upload.pageMBps} MB/s vs aws-cli into the node ${result.upload.awsCliMBps} MB/s (${result.upload.ratio}x)\n`)
} finally {
  await browser.close()
  await node.stop()
}
process.exit(0)
