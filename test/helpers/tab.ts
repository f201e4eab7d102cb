import type { Browser, Page } from 'playwright-core'

/**
 * A page of a node's console origin in a fresh browser context (its own
 * service worker and IndexedDB) that called register() with these keys; the
 * registration is `globalThis.s3meshTab` in the page.
 */
export async function openTab (browser: Browser, consoleUrl: string, [accessKeyId, secretAccessKey]: readonly [string, string]): Promise<Page> {
  const context = await browser.newContext()
  // tsx compiles the functions handed to the page with esbuild's keepNames, which calls a __name helper.
  await context.addInitScript('globalThis.__name = f => f')
  const page = await context.newPage()
  await page.goto(consoleUrl)
  await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
    const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
    ;(globalThis as { s3meshTab?: unknown }).s3meshTab = await register({ accessKeyId, secretAccessKey })
  }, [accessKeyId, secretAccessKey])
  return page
}

/**
 * A page of a node's console origin in a fresh browser context whose page
 * registered the service worker with `options` and no page node (join: false):
 * the worker answers with IndexedDB, and with the node's admission writes
 * through to the node.
 */
export async function workerPage (browser: Browser, consoleUrl: string, options: Record<string, unknown>): Promise<Page> {
  const context = await browser.newContext()
  // tsx compiles the functions handed to the page with esbuild's keepNames, which calls a __name helper.
  await context.addInitScript('globalThis.__name = f => f')
  const page = await context.newPage()
  await page.goto(consoleUrl)
  await page.evaluate(async options => {
    const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
    await register({ ...options, join: false })
  }, options)
  return page
}
