/**
 * A user's tab in a real Chromium, beside a root tab in the same mesh: the
 * user (reads one bucket, nothing else) joins with its own keys, reads
 * through fetch('/s3/...'), is refused a write and the other bucket with
 * the node's own S3 errors, and its catalog holds no key outside its grant.
 * The root tab still does everything. Then the user is disabled, and its
 * tab's admission is no longer renewed.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { s3Signer } from '../../src/core/s3-signer.js'
import { launchChromium } from '../helpers/chromium.js'
import { openTab } from '../helpers/tab.js'
import { signer } from '../helpers/s3-client.js'
import { iamCall, userWithPolicy, type IamCall } from '../helpers/iam.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

type Tab = { principal?: { kind: string, user?: string }, node: { guest: { catalog: { all: () => Iterable<{ bucket: string, key?: string }> } } } }

describe('a user\'s tab beside a root tab', () => {
  const root = signer()
  let node: ServerProcess
  let browser: Browser
  let viewer: [string, string]
  let iam: IamCall
  let viewerPage: Page

  before(async () => {
    node = await startServerProcess({ env: { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }, args: ['--membership', 'local', '--replicas', '1'] })
    iam = iamCall(node.url)
    viewer = await userWithPolicy(iam, 'viewer', [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::docs', 'arn:aws:s3:::docs/*'] }])
    for (const path of ['docs', 'docs/a.txt', 'secret', 'secret/x.txt']) {
      assert.equal((await root.fetch(`${node.url}/${path}`, { method: 'PUT', ...(path.includes('.') ? { body: `the text of ${path}` } : {}) })).status, 200)
    }
    browser = await launchChromium()
  })
  after(async () => { await browser?.close(); await node?.stop().catch(() => {}) })

  const open = async (keys: readonly [string, string]): Promise<Page> => await openTab(browser, node.consoleUrl!, keys)

  it('the user\'s tab reads what its user may, is refused the rest as the node refuses it, and holds no entry outside its grant', async () => {
    const page = await open(viewer)
    const who = await page.evaluate(() => (globalThis as unknown as { s3meshTab: Tab }).s3meshTab.principal)
    assert.deepEqual(who, { kind: 'user', user: 'viewer', accessKeyId: viewer[0] })
    const out = await page.evaluate(async () => {
      const code = async (r: Response): Promise<string> => /<Code>([^<]+)<\/Code>/.exec(await r.text())?.[1] ?? String(r.status)
      const get = await fetch('/s3/docs/a.txt')
      const put = await fetch('/s3/docs/b.txt', { method: 'PUT', body: 'no' })
      const other = await fetch('/s3/secret/x.txt')
      const list = await fetch('/s3/secret?list-type=2')
      return { get: [get.status, await get.text()], put: [put.status, await code(put)], other: [other.status, await code(other)], list: [list.status, await code(list)] }
    })
    assert.deepEqual(out.get, [200, 'the text of docs/a.txt'])
    assert.deepEqual(out.put, [403, 'AccessDenied'])
    assert.deepEqual(out.other, [403, 'AccessDenied'])
    assert.deepEqual(out.list, [403, 'AccessDenied'])
    // The node answers the same user alike (the same evaluation): its refusal of the write, signed with the user's keys.
    const atNode = await s3Signer({ accessKeyId: viewer[0], secretAccessKey: viewer[1] }).fetch(`${node.url}/docs/b.txt`, { method: 'PUT', body: 'no' })
    assert.equal(atNode.status, 403)
    assert.equal((await root.fetch(`${node.url}/docs/b.txt`)).status, 404, 'the refused write left nothing')
    const held = await page.evaluate(() => [...(globalThis as unknown as { s3meshTab: Tab }).s3meshTab.node.guest.catalog.all()].map(e => `${e.bucket}/${e.key ?? ''}`))
    assert.ok(held.includes('docs/a.txt'), `its grant is there: ${held.join(', ')}`)
    assert.ok(held.every(k => k.startsWith('docs/')), `nothing outside it: ${held.join(', ')}`)
    viewerPage = page
  })

  it('a root tab in the same mesh does everything', async () => {
    const page = await open([ACCESS_KEY, SECRET_KEY])
    const out = await page.evaluate(async () => {
      const put = await fetch('/s3/secret/y.txt', { method: 'PUT', body: 'root writes' })
      const get = await fetch('/s3/secret/x.txt')
      const buckets = await (await fetch('/s3/')).text()
      return [put.status, get.status, await get.text(), buckets.includes('<Name>docs</Name>') && buckets.includes('<Name>secret</Name>')]
    })
    assert.deepEqual(out, [200, 200, 'the text of secret/x.txt', true])
    assert.equal(await (await root.fetch(`${node.url}/secret/y.txt`)).text(), 'root writes')
    await page.close()
  })

  it('a tab joins with STS temporary credentials, with the session policy narrowing its user\'s rights', async () => {
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/a.txt' }] })
    const res = await s3Signer({ accessKeyId: viewer[0], secretAccessKey: viewer[1] }, 'sts').fetch(`${node.url}/`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ Action: 'AssumeRole', RoleArn: 'arn:aws:iam::000000000000:role/tab', RoleSessionName: 'tab', DurationSeconds: '900', Policy: policy, Version: '2011-06-15' }).toString(),
    })
    const xml = await res.text()
    assert.equal(res.status, 200, xml)
    const [id, secret, token] = ['AccessKeyId', 'SecretAccessKey', 'SessionToken'].map(t => new RegExp(`<${t}>([^<]+)</${t}>`).exec(xml)![1]!) as [string, string, string]
    const context = await browser.newContext()
    await context.addInitScript('globalThis.__name = f => f')
    const page = await context.newPage()
    await page.goto(node.consoleUrl!)
    const out = await page.evaluate(async ([accessKeyId, secretAccessKey, sessionToken]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      const tab = await register({ accessKeyId, secretAccessKey, sessionToken })
      const a = await fetch('/s3/docs/a.txt')
      const b = await fetch('/s3/docs/b-not-there.txt')
      return { principal: tab.principal, a: [a.status, await a.text()], b: b.status }
    }, [id, secret, token])
    assert.deepEqual(out.principal, { kind: 'user', user: 'viewer', accessKeyId: id })
    assert.deepEqual(out.a, [200, 'the text of docs/a.txt'])
    assert.equal(out.b, 403, 'the session policy allows only docs/a.txt: AccessDenied, as the node would say')
    await context.close()
  })

  it('a disabled user\'s open tab is cut off by its node, and the user is admitted no more', async () => {
    const t0 = Date.now()
    await iam({ Action: 'SetUserStatus', UserName: 'viewer', Status: 'Disabled' })
    await until('the node ends the open tab\'s feed (revoked)', async () => await viewerPage.evaluate(() => (globalThis as unknown as { s3meshTab: { node: { guest: { stats: { refused?: string } } } } }).s3meshTab.node.guest.stats.refused === 'revoked'), 10_000)
    process.stderr.write(`browser-scoped: the disabled user's tab was cut off after ${Date.now() - t0} ms\n`)
    const page = await (await browser.newContext()).newPage()
    await page.goto(node.consoleUrl!)
    const joined = await page.evaluate(async ([accessKeyId, secretAccessKey]) => {
      const { register } = await import('/s3mesh.js' as string) as typeof import('../../src/browser/index.js')
      try { await register({ accessKeyId, secretAccessKey }); return 'joined' } catch (err) { return `${(err as Error).name}: ${(err as Error).message}` }
    }, viewer)
    assert.match(joined, /^JoinError: [\s\S]*InvalidAccessKeyId/)
  })
})
