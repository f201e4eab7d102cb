import { readdir, readFile } from 'node:fs/promises'
import type { Browser } from 'playwright-core'
import { round } from './stats.js'

/** The proportional set size of every Chromium renderer process (the tab's page and its service worker run there), MB. */
async function renderersPssMb (): Promise<number> {
  let kb = 0
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (!cmdline.includes('--type=renderer')) continue
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '')
    kb += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0)
  }
  return round(kb / 1024)
}

export interface TabMemory {
  /** register() from call to resolve: the tab joined the mesh (admission, relay, feed synced). */
  registerMs: number
  /** The first ListObjectsV2 page (1,000 keys) through the tab's service worker. */
  listMs: number
  /** Keys on that page. */
  listed: number
  /** The renderers' PSS with the console page open, before register(): what a tab costs without s3mesh. */
  idlePssMb: number
  /** The renderers' PSS once the tab has joined and listed, after a garbage collection. */
  joinedPssMb: number
  /** The page's JavaScript heap in use then (the page node: its catalog part, libp2p). */
  pageHeapMb: number
}

/**
 * A real tab (Debian's Chromium, a fresh browser context) on a node's console
 * origin: opens the page, measures the renderers, registers with the root
 * keys (service worker and page node: the tab joins the mesh through that
 * node), lists the first page of `bucket` through `fetch('/s3/...')`, then
 * measures again after a garbage collection. The browser should have no
 * other tab open: every renderer process is counted.
 */
export async function tabMemory (browser: Browser, consoleUrl: string, [accessKeyId, secretAccessKey]: readonly [string, string], bucket: string): Promise<TabMemory> {
  const context = await browser.newContext()
  try {
    // tsx compiles the functions handed to the page with esbuild's keepNames, which calls a __name helper.
    await context.addInitScript('globalThis.__name = f => f')
    const page = await context.newPage()
    await page.goto(consoleUrl)
    const cdp = await context.newCDPSession(page)
    await cdp.send('HeapProfiler.collectGarbage')
    const idlePssMb = await renderersPssMb()
    const registerMs = await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
      const t0 = performance.now()
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      ;(globalThis as { s3meshTab?: unknown }).s3meshTab = await register({ accessKeyId, secretAccessKey })
      return performance.now() - t0
    }, [accessKeyId, secretAccessKey] as const)
    const { listMs, listed } = await page.evaluate(async (bucket) => {
      const t0 = performance.now()
      const res = await fetch(`/s3/${bucket}?list-type=2&max-keys=1000`)
      const xml = await res.text()
      if (res.status !== 200) throw new Error(`the tab's list answered ${res.status}: ${xml.slice(0, 300)}`)
      return { listMs: performance.now() - t0, listed: xml.split('<Key>').length - 1 }
    }, bucket)
    await cdp.send('HeapProfiler.collectGarbage')
    const heap = await cdp.send('Runtime.getHeapUsage')
    const joinedPssMb = await renderersPssMb()
    return { registerMs: round(registerMs), listMs: round(listMs), listed, idlePssMb, joinedPssMb, pageHeapMb: round(heap.usedSize / 1e6) }
  } finally {
    await context.close()
  }
}
