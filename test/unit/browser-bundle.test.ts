/**
 * The browser bundle (vite, from src/browser) must contain no Node built-ins,
 * and the handler inside it must work on Web APIs alone. `npm test` builds it first.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { s3Signer } from '../../src/core/s3-signer.js'

const bundle = fileURLToPath(new URL('../../dist/browser-bundle/s3mesh.js', import.meta.url))
const worker = fileURLToPath(new URL('../../dist/browser-bundle/s3mesh-sw.js', import.meta.url))

describe('browser bundle', () => {
  it('is built, page library and service worker, and imports no Node built-in modules', async () => {
    for (const file of [bundle, worker]) {
      assert.ok(existsSync(file), `${file} is missing: run npm run build`)
      const code = await readFile(file, 'utf8')
      assert.doesNotMatch(code, /from\s*["']node:|import\(\s*["']node:|require\(/)
      assert.doesNotMatch(code, /from\s*["'](fs|path|http|crypto|stream|os)["']/)
    }
    // The worker is a classic script (every browser runs those as workers): no import or export statements.
    assert.doesNotMatch(await readFile(worker, 'utf8'), /^\s*(import|export)\s/m)
  })

  it('is what `s3mesh/browser` resolves to, with type declarations; `s3mesh/node` resolves only under the node condition', async () => {
    const pkg = JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { exports: Record<string, Record<string, string> | string> }
    assert.equal(fileURLToPath(import.meta.resolve('s3mesh/browser')), bundle)
    const browser = pkg.exports['./browser'] as Record<string, string>
    assert.ok(existsSync(fileURLToPath(new URL(`../../${browser.types!}`, import.meta.url))), 'declarations for s3mesh/browser')
    assert.deepEqual(Object.keys(pkg.exports['./node'] as Record<string, string>).filter(k => k !== 'types'), ['node'], 'no browser or default condition for the Node entry')
    assert.equal(fileURLToPath(import.meta.resolve('s3mesh/service-worker')), worker)
  })

  it('serves S3 from the bundled handler and memory store', async () => {
    const { createS3Handler, MemoryStore } = await import(bundle) as typeof import('../../src/browser/index.js')
    const handler = createS3Handler({ store: new MemoryStore(), basePath: '/s3', credentials: { secretFor: () => 'SECRET-KEY' } })
    const sign = s3Signer({ accessKeyId: 'AK', secretAccessKey: 'SECRET-KEY' })
    assert.equal((await handler(await sign.sign('http://app.test/s3/notes', { method: 'PUT' }))).status, 200)
    const put = await handler(await sign.sign('http://app.test/s3/notes/today.txt', { method: 'PUT', body: 'from a bundle' }))
    assert.equal(put.headers.get('etag'), '"98f8508ac6e8b3c3d17c6098e3404145"', 'MD5 computed by the pure-JS hashes')
    assert.equal(await (await handler(await sign.sign('http://app.test/s3/notes/today.txt'))).text(), 'from a bundle')
  })
})
