/**
 * S3 Object Lock in a real Chromium against a real `s3mesh server` member,
 * through fetch('/s3/...') as a web app calls it (docs/plans/object-lock.md,
 * increment 5): a tab joined as a guest (its node's catalog keeps the locks),
 * a service worker writing through to the node (a GatewayStore), and one on
 * its own (IndexedDB keeps them). What the tab did is checked on the node
 * with the AWS SDK.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DeleteObjectCommand, GetObjectLockConfigurationCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { sdkClient, sdkOutcome } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { openTab, workerPage } from '../helpers/tab.js'

/** The object lock flow a web app runs in `page` on a bucket `b` it makes: every answer that matters, as data. */
async function lockFlow (page: Page, b: string): Promise<Record<string, unknown>> {
  return await page.evaluate(async b => {
    const doc = async (res: Response): Promise<Document> => new DOMParser().parseFromString(await res.text(), 'application/xml')
    const code = async (res: Response): Promise<string> => `${res.status} ${res.status < 300 ? '' : (await doc(res)).querySelector('Code')?.textContent ?? ''}`.trim()
    const day = 86_400_000
    const iso = (ms: number): string => new Date(Math.ceil(ms / 1000) * 1000).toISOString()
    const bypass = { 'x-amz-bypass-governance-retention': 'true' }
    const out: Record<string, unknown> = {}
    out.create = await code(await fetch(`/s3/${b}`, { method: 'PUT', headers: { 'x-amz-bucket-object-lock-enabled': 'true' } }))
    out.versioning = (await doc(await fetch(`/s3/${b}?versioning`))).querySelector('Status')?.textContent
    out.enabled = (await doc(await fetch(`/s3/${b}?object-lock`))).querySelector('ObjectLockEnabled')?.textContent
    out.setDefault = await code(await fetch(`/s3/${b}?object-lock`, {
      method: 'PUT', body: '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>',
    }))
    out.suspend = await code(await fetch(`/s3/${b}?versioning`, { method: 'PUT', body: '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>' }))
    const ledger = (await fetch(`/s3/${b}/ledger.txt`, { method: 'PUT', body: 'entry' })).headers.get('x-amz-version-id')
    const head = await fetch(`/s3/${b}/ledger.txt`, { method: 'HEAD' })
    out.ledgerHead = [head.headers.get('x-amz-object-lock-mode'), Date.parse(head.headers.get('x-amz-object-lock-retain-until-date') ?? '') > Date.now() + day - 120_000]
    const held = (await fetch(`/s3/${b}/held.bin`, { method: 'PUT', body: 'held', headers: { 'x-amz-object-lock-legal-hold': 'ON' } })).headers.get('x-amz-version-id')
    out.ids = [ledger !== null && ledger !== 'null', held !== null && held !== 'null']
    out.hold = (await doc(await fetch(`/s3/${b}/held.bin?legal-hold&versionId=${held}`))).querySelector('Status')?.textContent
    out.deleteGoverned = await code(await fetch(`/s3/${b}/ledger.txt?versionId=${ledger}`, { method: 'DELETE' }))
    out.deleteHeld = await code(await fetch(`/s3/${b}/held.bin?versionId=${held}`, { method: 'DELETE', headers: bypass }))
    out.marker = (await fetch(`/s3/${b}/held.bin`, { method: 'DELETE' })).headers.get('x-amz-delete-marker')
    out.stillThere = await (await fetch(`/s3/${b}/held.bin?versionId=${held}`)).text()
    out.comply = await code(await fetch(`/s3/${b}/held.bin?retention&versionId=${held}`, {
      method: 'PUT', body: `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>${iso(Date.now() + 2 * day)}</RetainUntilDate></Retention>`, headers: bypass,
    }))
    out.retention = (await doc(await fetch(`/s3/${b}/held.bin?retention&versionId=${held}`))).querySelector('Mode')?.textContent
    out.shorten = await code(await fetch(`/s3/${b}/held.bin?retention&versionId=${held}`, {
      method: 'PUT', body: `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>${iso(Date.now() + day)}</RetainUntilDate></Retention>`, headers: bypass,
    }))
    out.release = await code(await fetch(`/s3/${b}/held.bin?legal-hold&versionId=${held}`, { method: 'PUT', body: '<LegalHold><Status>OFF</Status></LegalHold>' }))
    out.deleteComplied = await code(await fetch(`/s3/${b}/held.bin?versionId=${held}`, { method: 'DELETE', headers: bypass }))
    out.deleteBypassed = await code(await fetch(`/s3/${b}/ledger.txt?versionId=${ledger}`, { method: 'DELETE', headers: bypass }))
    out.ledgerGone = (await fetch(`/s3/${b}/ledger.txt?versionId=${ledger}`, { method: 'HEAD' })).status
    out.versions = { ledger, held }
    return out
  }, b)
}

function assertFlow (out: Record<string, unknown>): void {
  assert.equal(out.create, '200')
  assert.equal(out.versioning, 'Enabled', 'a bucket made with object lock keeps versions')
  assert.equal(out.enabled, 'Enabled')
  assert.equal(out.setDefault, '200')
  assert.equal(out.suspend, '409 InvalidBucketState')
  assert.deepEqual(out.ledgerHead, ['GOVERNANCE', true], 'the default retention, a day from the PUT')
  assert.deepEqual(out.ids, [true, true])
  assert.equal(out.hold, 'ON')
  assert.equal(out.deleteGoverned, '403 AccessDenied')
  assert.equal(out.deleteHeld, '403 AccessDenied', 'a legal hold, bypass or not')
  assert.equal(out.marker, 'true', 'a delete without an id makes a marker')
  assert.equal(out.stillThere, 'held')
  assert.equal(out.comply, '200')
  assert.equal(out.retention, 'COMPLIANCE')
  assert.equal(out.shorten, '403 AccessDenied', 'COMPLIANCE is never shortened')
  assert.equal(out.release, '200')
  assert.equal(out.deleteComplied, '403 AccessDenied', 'COMPLIANCE holds with the hold lifted')
  assert.equal(out.deleteBypassed, '204', 'GOVERNANCE goes with a bypass')
  assert.equal(out.ledgerGone, 404)
}

describe('S3 object lock in a browser tab', () => {
  let node: ServerProcess
  let browser: Browser
  let s3: S3Client

  before(async () => {
    node = await startServerProcess()
    s3 = sdkClient(node.url)
    browser = await launchChromium()
  })
  after(async () => { s3?.destroy(); await browser?.close(); await node?.stop() })

  /** What the flow left on the node: the held version under COMPLIANCE, which the SDK cannot delete either. */
  async function assertOnNode (bucket: string, out: Record<string, unknown>): Promise<void> {
    const { held } = out.versions as { held: string }
    assert.equal((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))).ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode, 'GOVERNANCE')
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'held.bin', VersionId: held }))
    assert.deepEqual([head.ObjectLockMode, head.ObjectLockLegalHoldStatus], ['COMPLIANCE', 'OFF'])
    assert.equal(await sdkOutcome(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'held.bin', VersionId: held, BypassGovernanceRetention: true }))), '403 AccessDenied')
  }

  it('a tab joined as a guest: the node keeps and enforces the locks', async () => {
    const page = await openTab(browser, node.consoleUrl!, [ACCESS_KEY, SECRET_KEY])
    assert.ok(await page.evaluate(() => (globalThis as { s3meshTab?: { node?: unknown } }).s3meshTab?.node !== undefined), 'the precondition: the tab answers S3 as a guest of the mesh')
    const out = await lockFlow(page, 'tab-lock')
    assertFlow(out)
    await assertOnNode('tab-lock', out)
    await page.context().close()
  })

  it('a service worker writing through to the node', async () => {
    const page = await workerPage(browser, node.consoleUrl!, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
    const out = await lockFlow(page, 'worker-lock')
    assertFlow(out)
    await assertOnNode('worker-lock', out)
    await page.context().close()
  })

  it('a service worker on its own: IndexedDB keeps and enforces the locks', async () => {
    const page = await workerPage(browser, node.consoleUrl!, { accessKeyId: 'page-key', secretAccessKey: 'page-secret-1234', gateway: false })
    assertFlow(await lockFlow(page, 'idb-lock'))
    assert.equal(await sdkOutcome(s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'idb-lock' }))), '404 NoSuchBucket', 'the precondition: kept in IndexedDB only, not on the node')
    await page.context().close()
  })
})
