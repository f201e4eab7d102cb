/**
 * S3 versioning in a real Chromium against a real `s3mesh server` member,
 * through fetch('/s3/...'): a tab joined as a guest (GuestStore: versioning,
 * version listings and reads by id go through its node, the current version
 * from the tab's catalog), and a service worker with no page node
 * (ReadThroughStore): with the node's admission its writes go to the node
 * and its reads through the gateway (a GatewayStore); on its own, IndexedDB
 * keeps the versions. What the tab did is checked on the node with the AWS
 * SDK.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { sdkClient } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { openTab, workerPage } from '../helpers/tab.js'

/**
 * The versions flow a web app runs through fetch('/s3/...') in `page`, on
 * a bucket `b` it makes: every answer that matters, as data.
 */
async function versionsFlow (page: Page, b: string): Promise<Record<string, unknown>> {
  return await page.evaluate(async b => {
    const doc = async (res: Response): Promise<Document> => new DOMParser().parseFromString(await res.text(), 'application/xml')
    const listed = async (): Promise<string[]> => {
      const d = await doc(await fetch(`/s3/${b}?versions`))
      return [...d.querySelector('ListVersionsResult')!.children]
        .filter(e => e.tagName === 'Version' || e.tagName === 'DeleteMarker')
        .map(e => `${e.tagName === 'Version' ? `v:${e.querySelector('Size')!.textContent}` : 'marker'}${e.querySelector('IsLatest')!.textContent === 'true' ? ':latest' : ''}`)
    }
    const out: Record<string, unknown> = {}
    out.create = (await fetch(`/s3/${b}`, { method: 'PUT' })).status
    out.before = (await doc(await fetch(`/s3/${b}?versioning`))).querySelector('Status')?.textContent ?? 'unset'
    const set = await fetch(`/s3/${b}?versioning`, { method: 'PUT', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' })
    out.set = [set.status, set.status === 200 ? '' : await set.text()]
    out.after = (await doc(await fetch(`/s3/${b}?versioning`))).querySelector('Status')?.textContent
    const v1 = (await fetch(`/s3/${b}/note.txt`, { method: 'PUT', body: 'one' })).headers.get('x-amz-version-id')
    const v2 = (await fetch(`/s3/${b}/note.txt`, { method: 'PUT', body: 'two!' })).headers.get('x-amz-version-id')
    out.ids = [v1, v2]
    const current = await fetch(`/s3/${b}/note.txt`)
    out.current = [await current.text(), current.headers.get('x-amz-version-id') === v2]
    const old = await fetch(`/s3/${b}/note.txt?versionId=${v1}`)
    out.old = [old.status, await old.text(), old.headers.get('x-amz-version-id') === v1]
    const oldHead = await fetch(`/s3/${b}/note.txt?versionId=${v1}`, { method: 'HEAD' })
    out.oldHead = [oldHead.status, oldHead.headers.get('content-length')]
    out.missing = (await doc(await fetch(`/s3/${b}/note.txt?versionId=0000000000000nosuch`))).querySelector('Code')?.textContent
    out.listed = await listed()
    const del = await fetch(`/s3/${b}/note.txt`, { method: 'DELETE' })
    const marker = del.headers.get('x-amz-version-id')
    out.del = [del.status, del.headers.get('x-amz-delete-marker'), marker !== null && marker !== v1 && marker !== v2]
    const gone = await fetch(`/s3/${b}/note.txt`)
    out.gone = [gone.status, gone.headers.get('x-amz-delete-marker'), gone.headers.get('x-amz-version-id') === marker]
    const markerHead = await fetch(`/s3/${b}/note.txt?versionId=${marker}`, { method: 'HEAD' })
    out.markerHead = [markerHead.status, markerHead.headers.get('x-amz-delete-marker'), markerHead.headers.get('allow')]
    out.listedWithMarker = await listed()
    out.notEmpty = (await doc(await fetch(`/s3/${b}`, { method: 'DELETE' }))).querySelector('Code')?.textContent
    const undone = await fetch(`/s3/${b}/note.txt?versionId=${marker}`, { method: 'DELETE' })
    out.undone = [undone.status, undone.headers.get('x-amz-delete-marker')]
    out.back = await (await fetch(`/s3/${b}/note.txt`)).text()
    // Restore: the old version copied over the key is a new current version.
    const restored = await fetch(`/s3/${b}/note.txt`, { method: 'PUT', headers: { 'x-amz-copy-source': `/${b}/note.txt?versionId=${v1}` } })
    out.restored = [restored.status, restored.headers.get('x-amz-copy-source-version-id') === v1, await (await fetch(`/s3/${b}/note.txt`)).text()]
    const tagged = await fetch(`/s3/${b}/note.txt?tagging&versionId=${v2}`, { method: 'PUT', body: '<Tagging><TagSet><Tag><Key>kept</Key><Value>yes</Value></Tag></TagSet></Tagging>' })
    out.tagged = [tagged.status, (await doc(await fetch(`/s3/${b}/note.txt?tagging&versionId=${v2}`))).querySelector('Value')?.textContent,
      (await doc(await fetch(`/s3/${b}/note.txt?tagging`))).querySelectorAll('Tag').length]
    out.final = await listed()
    return out
  }, b)
}

/** What versionsFlow answers on any endpoint that keeps versions. */
function assertFlow (out: Record<string, unknown>): void {
  assert.equal(out.create, 200)
  assert.equal(out.before, 'unset')
  assert.deepEqual(out.set, [200, ''])
  assert.equal(out.after, 'Enabled')
  const [v1, v2] = out.ids as [string | null, string | null]
  assert.ok(v1 !== null && v2 !== null && v1 !== v2 && v1 !== 'null', `PUTs answer distinct version ids: ${v1}, ${v2}`)
  assert.deepEqual(out.current, ['two!', true])
  assert.deepEqual(out.old, [200, 'one', true])
  assert.deepEqual(out.oldHead, [200, '3'])
  assert.equal(out.missing, 'NoSuchVersion')
  assert.deepEqual(out.listed, ['v:4:latest', 'v:3'])
  assert.deepEqual(out.del, [204, 'true', true])
  assert.deepEqual(out.gone, [404, 'true', true])
  assert.deepEqual(out.markerHead, [405, 'true', 'DELETE'])
  assert.deepEqual(out.listedWithMarker, ['marker:latest', 'v:4', 'v:3'])
  assert.equal(out.notEmpty, 'BucketNotEmpty')
  assert.deepEqual(out.undone, [204, 'true'])
  assert.equal(out.back, 'two!')
  assert.deepEqual(out.restored, [200, true, 'one'])
  assert.deepEqual(out.tagged, [200, 'yes', 0], 'the tags are the version\'s: the current one has none')
  assert.deepEqual(out.final, ['v:3:latest', 'v:4', 'v:3'])
}

describe('S3 versioning in a browser tab', () => {
  let node: ServerProcess
  let browser: Browser
  let s3: S3Client

  before(async () => {
    node = await startServerProcess()
    s3 = sdkClient(node.url)
    browser = await launchChromium()
  })
  after(async () => { s3?.destroy(); await browser?.close(); await node?.stop() })

  it('a tab joined as a guest keeps versions through its node: ids, reads by id, markers, listing, restore, tags', async () => {
    const page = await openTab(browser, node.consoleUrl!, [ACCESS_KEY, SECRET_KEY])
    const joined = await page.evaluate(() => (globalThis as { s3meshTab?: { node?: unknown } }).s3meshTab?.node !== undefined)
    assert.ok(joined, 'the precondition: the tab answers S3 as a guest of the mesh')
    const out = await versionsFlow(page, 'tab-versions')
    assertFlow(out)
    // The mesh has what the tab did: the node lists the same versions and reads the old one by id.
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'tab-versions' }))
    const [v1, v2] = out.ids as [string, string]
    assert.deepEqual(listed.Versions?.map(v => [v.Size, v.IsLatest]), [[3, true], [4, false], [3, false]])
    assert.deepEqual(listed.Versions?.slice(1).map(v => v.VersionId), [v2, v1])
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'tab-versions', Key: 'note.txt', VersionId: v1 }))).Body!.transformToString(), 'one')
    // A version written elsewhere is read by id in the tab.
    const elsewhere = (await s3.send(new PutObjectCommand({ Bucket: 'tab-versions', Key: 'note.txt', Body: 'from the SDK' }))).VersionId!
    const read = await page.evaluate(async ([id, older]) => [await (await fetch(`/s3/tab-versions/note.txt?versionId=${id}`)).text(), await (await fetch(`/s3/tab-versions/note.txt?versionId=${older}`)).text()], [elsewhere, v2])
    assert.deepEqual(read, ['from the SDK', 'two!'])
    // A key the tab read but does not follow: its current version deleted by id in the tab, the one before is current there.
    const older = (await s3.send(new PutObjectCommand({ Bucket: 'tab-versions', Key: 'other.txt', Body: 'older' }))).VersionId!
    const newer = (await s3.send(new PutObjectCommand({ Bucket: 'tab-versions', Key: 'other.txt', Body: 'newer' }))).VersionId!
    const afterDelete = await page.evaluate(async ([newer, older]) => {
      const before = await (await fetch('/s3/tab-versions/other.txt')).text()
      const deleted = (await fetch(`/s3/tab-versions/other.txt?versionId=${newer}`, { method: 'DELETE' })).status
      const now = await fetch('/s3/tab-versions/other.txt')
      return [before, deleted, await now.text(), now.headers.get('x-amz-version-id') === older]
    }, [newer, older])
    assert.deepEqual(afterDelete, ['newer', 204, 'older', true])
    // A listing in the tab is in key order whatever slots its keys have (a null version written while suspended, beside versioned ones).
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'tab-versions', VersioningConfiguration: { Status: 'Suspended' } }))
    await s3.send(new PutObjectCommand({ Bucket: 'tab-versions', Key: 'zz-null.txt', Body: 'null version' }))
    const keys = await page.evaluate(async () => [...new DOMParser().parseFromString(await (await fetch('/s3/tab-versions?list-type=2')).text(), 'application/xml').querySelectorAll('Contents > Key')].map(k => k.textContent))
    assert.deepEqual(keys, ['note.txt', 'other.txt', 'zz-null.txt'])
    await page.context().close()
  })

  it('a service worker with no page node writes versions through to the node and reads them back through the gateway', async () => {
    const page = await workerPage(browser, node.consoleUrl!, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY })
    const out = await versionsFlow(page, 'worker-versions')
    assertFlow(out)
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: 'worker-versions' }))
    assert.deepEqual(listed.Versions?.map(v => [v.Size, v.IsLatest]), [[3, true], [4, false], [3, false]], 'the writes are the node\'s')

    // Versions made on the node, listed and read by id in the page.
    await s3.send(new CreateBucketCommand({ Bucket: 'node-versions' }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'node-versions', VersioningConfiguration: { Status: 'Enabled' } }))
    const first = (await s3.send(new PutObjectCommand({ Bucket: 'node-versions', Key: 'k', Body: 'first' }))).VersionId!
    await s3.send(new PutObjectCommand({ Bucket: 'node-versions', Key: 'k', Body: 'second' }))
    const through = await page.evaluate(async id => {
      const list = new DOMParser().parseFromString(await (await fetch('/s3/node-versions?versions')).text(), 'application/xml')
      return [[...list.querySelectorAll('Version > Size')].map(s => s.textContent), await (await fetch(`/s3/node-versions/k?versionId=${id}`)).text(), await (await fetch('/s3/node-versions/k')).text()]
    }, first)
    assert.deepEqual(through, [['6', '5'], 'first', 'second'])
    await page.context().close()
  })

  it('a service worker on its own (no node to write to) keeps versions in IndexedDB', async () => {
    const page = await workerPage(browser, node.consoleUrl!, { accessKeyId: 'page-key', secretAccessKey: 'page-secret-1234', gateway: false })
    assertFlow(await versionsFlow(page, 'idb-versions'))
    await assert.rejects(s3.send(new ListObjectVersionsCommand({ Bucket: 'idb-versions' })), (err: Error) => err.name === 'NoSuchBucket', 'the precondition: kept in IndexedDB only, not on the node')
    await page.context().close()
  })
})
