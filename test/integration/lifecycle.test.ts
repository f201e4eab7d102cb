/**
 * Bucket lifecycle with the AWS SDK against real `s3mesh server` processes:
 * the configuration API and its refusals, x-amz-expiration, and the rules
 * acting: on one node, and on a five-node mesh where each expired object is
 * deleted once, by one member, and is gone from every node, and no version
 * under object lock is deleted. The nodes run
 * their rules every second with a clock moved days on
 * (S3MESH_LIFECYCLE_CLOCK_SKEW_DAYS), so a rule of days acts at once.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketLifecycleCommand, DeleteObjectCommand, GetBucketLifecycleConfigurationCommand, GetBucketVersioningCommand,
  GetObjectCommand, GetObjectLockConfigurationCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand, PutObjectCommand, type LifecycleRule, type S3Client,
} from '@aws-sdk/client-s3'
import { sdkClient, sdkOutcome, signer } from '../helpers/s3-client.js'
import { startMeshProcesses } from '../helpers/mesh-processes.js'
import { metric, startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const B = 'aging'
const sign = signer()
/** Every node's clock for its rules, moved on: a 2-day rule is due, a 30-day one is not. */
const SKEW = { S3MESH_LIFECYCLE_CLOCK_SKEW_DAYS: '3' }
const FAST = ['--lifecycle-interval', '1']

const keys = async (s3: S3Client): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: B }))).Contents ?? []).map(c => c.Key!)

const RULES: LifecycleRule[] = [
  { ID: 'expire-logs', Filter: { Prefix: 'logs/' }, Status: 'Enabled', Expiration: { Days: 2 } },
  { ID: 'keep-30', Filter: { And: { Prefix: 'keep/', Tags: [{ Key: 'keep', Value: 'yes' }] } }, Status: 'Enabled', Expiration: { Days: 30 } },
  { ID: 'old-uploads', Filter: { Prefix: '' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
  { ID: 'off', Filter: { Prefix: 'data/' }, Status: 'Disabled', Expiration: { Days: 1 } },
]

/** The x-amz-expiration S3 gives an object written now under a rule of `days`: the next midnight UTC after now + days. */
function expiryAfter (written: Date, days: number, rule: string): string {
  const midnight = new Date(Math.ceil((written.getTime() + days * 86_400_000) / 86_400_000) * 86_400_000)
  return `expiry-date="${midnight.toUTCString()}", rule-id="${rule}"`
}

describe('lifecycle on one node', () => {
  let server: ServerProcess
  let s3: S3Client
  before(async () => {
    server = await startServerProcess({ args: FAST, env: SKEW })
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('the configuration is kept and read back as it was given; removed, reading it is NoSuchLifecycleConfiguration', async () => {
    assert.equal(await sdkOutcome(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }))), '404 NoSuchLifecycleConfiguration')
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: { Rules: RULES } }))
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }))
    assert.deepEqual(got.Rules, RULES)
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: B }))
    assert.equal(await sdkOutcome(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }))), '404 NoSuchLifecycleConfiguration')
    assert.equal(await sdkOutcome(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'no-such-bucket' }))), '404 NoSuchBucket')
  })

  it('refuses what S3 refuses, keeping the configuration it had', async () => {
    const refused = async (body: string): Promise<string> => {
      const res = await sign.fetch(`${server.url}/${B}?lifecycle`, { method: 'PUT', body, headers: { 'content-type': 'application/xml' } })
      return `${res.status} ${/<Code>([^<]*)<\/Code>/.exec(await res.text())?.[1]}`
    }
    const rule = (inner: string, id = 'r'): string => `<Rule><ID>${id}</ID><Filter><Prefix>p/</Prefix></Filter><Status>Enabled</Status>${inner}</Rule>`
    const doc = (...rules: string[]): string => `<LifecycleConfiguration>${rules.join('')}</LifecycleConfiguration>`
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: { Rules: RULES.slice(0, 1) } }))
    assert.equal(await refused(doc()), '400 MalformedXML', 'no rule')
    assert.equal(await refused(doc(rule('<Expiration><Days>0</Days></Expiration>'))), '400 InvalidArgument', 'zero days')
    assert.equal(await refused(doc(rule('<Expiration><Date>2026-05-01T10:00:00Z</Date></Expiration>'))), '400 InvalidArgument', 'a date not at midnight')
    assert.equal(await refused(doc(rule('<Expiration><Date>2099-02-30T00:00:00Z</Date></Expiration>'))), '400 InvalidArgument', 'a day not on the calendar')
    assert.equal(await refused(doc(rule('<Expiration><Days>1</Days><Date>2026-05-01T00:00:00Z</Date></Expiration>'))), '400 MalformedXML', 'days and a date')
    assert.equal(await refused(doc(rule('<Expiration><Days>1</Days></Expiration>'), rule('<Expiration><Days>2</Days></Expiration>'))), '400 InvalidArgument', 'two rules with one ID')
    assert.equal(await refused(doc(rule(''))), '400 InvalidArgument', 'no action')
    assert.equal(await refused(doc('<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>')), '400 MalformedXML', 'no filter')
    assert.equal(await refused(doc('<Rule><Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>')), '400 MalformedXML', 'two conditions outside <And>')
    assert.equal(await refused(doc(rule('<Expiration><Days>1</Days></Expiration>').replace('Enabled', 'On'))), '400 MalformedXML', 'a status that is not Enabled or Disabled')
    assert.equal(await refused(doc(rule('<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>'))), '501 NotImplemented', 'one storage class')
    assert.equal(await refused(doc('<Rule><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>')), '400 InvalidRequest', 'uploads have no tags')
    assert.equal(await refused(doc('<Rule><Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>')), '400 InvalidArgument', 'delete markers have no size')
    assert.equal(await refused('<LifecycleConfiguration><Rule>'), '400 MalformedXML', 'not XML')
    assert.deepEqual((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }))).Rules, RULES.slice(0, 1), 'the one it had')
  })

  it('a rule whose ID is any text (spaces, a newline, other scripts) is named URL-encoded in x-amz-expiration, as S3 names it; the objects it covers are written and read', async () => {
    const id = 'old logs\n規則'
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: { Rules: [{ ID: id, Filter: { Prefix: 'intl/' }, Status: 'Enabled', Expiration: { Days: 3 } }] } }))
    assert.equal((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }))).Rules?.[0]?.ID, id)
    const put = await sign.fetch(`${server.url}/${B}/intl/a`, { method: 'PUT', body: 'x' })
    assert.equal(put.status, 200, await put.clone().text())
    const head = await sign.fetch(`${server.url}/${B}/intl/a`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    const written = new Date(head.headers.get('last-modified')!)
    assert.equal(head.headers.get('x-amz-expiration'), expiryAfter(written, 3, 'old%20logs%0A%E8%A6%8F%E5%89%87'))
    assert.equal(put.headers.get('x-amz-expiration'), head.headers.get('x-amz-expiration'))
    assert.equal(await (await sign.fetch(`${server.url}/${B}/intl/a`)).text(), 'x')
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: B }))
    assert.equal((await sign.fetch(`${server.url}/${B}/intl/a`, { method: 'DELETE' })).status, 204)
  })

  it('objects a rule expires say when (x-amz-expiration on PUT and HEAD) and are deleted when their day comes; old uploads are aborted; the rest stays', async () => {
    // A public object, its ACL saved before any rule can expire it (the case before left one).
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: B }))
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'logs/0', Body: 'log 0', ACL: 'public-read' }))
    const accessFile = join(server.dataDir, '.s3mesh', 'access.json')
    await until('the public ACL of logs/0 is saved', async () => (await readFile(accessFile, 'utf8')).includes('"logs/0"'), 5_000)
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: { Rules: RULES } }))
    const before = await metric(server, 's3mesh_lifecycle_expired_objects_total')
    const kept = await s3.send(new PutObjectCommand({ Bucket: B, Key: 'keep/a', Body: 'kept', Tagging: 'keep=yes' }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'keep/a' }))
    assert.equal(kept.Expiration, expiryAfter(head.LastModified!, 30, 'keep-30'), 'PutObject says when')
    assert.equal(head.Expiration, kept.Expiration, 'HeadObject too')
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'keep/untagged', Body: 'no tag: no rule' }))
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: B, Key: 'keep/untagged' }))).Expiration, undefined)
    await s3.send(new PutObjectCommand({ Bucket: B, Key: 'data/1', Body: 'a disabled rule' }))
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'up/x' }))
    for (let i = 1; i < 5; i++) await s3.send(new PutObjectCommand({ Bucket: B, Key: `logs/${i}`, Body: `log ${i}` }))
    await until('the logs/ objects are gone', async () => !(await keys(s3)).some(k => k.startsWith('logs/')), 20_000)
    // Its ACL went with it: an object put at the key later (by hand, say) is not public.
    await until('the ACL of the expired object is gone', async () => !(await readFile(accessFile, 'utf8')).includes('"logs/0"'), 5_000)
    assert.deepEqual(await keys(s3), ['data/1', 'keep/a', 'keep/untagged'])
    await until('the upload is aborted', async () => ((await s3.send(new ListMultipartUploadsCommand({ Bucket: B }))).Uploads ?? []).length === 0, 10_000)
    assert.ok(UploadId !== undefined)
    assert.equal(await metric(server, 's3mesh_lifecycle_expired_objects_total') - before, 5)
    assert.equal(await metric(server, 's3mesh_lifecycle_aborted_uploads_total'), 1)
  })

  it('an object expired in a bucket whose versioning is suspended takes its ACL with it (the null marker takes its place)', async () => {
    const S = 'suspended-rules'
    await s3.send(new CreateBucketCommand({ Bucket: S }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: S, VersioningConfiguration: { Status: 'Enabled' } }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: S, VersioningConfiguration: { Status: 'Suspended' } }))
    await s3.send(new PutObjectCommand({ Bucket: S, Key: 'logs/public', Body: 'the null version', ACL: 'public-read' }))
    const accessFile = join(server.dataDir, '.s3mesh', 'access.json')
    await until('its public ACL is saved', async () => (await readFile(accessFile, 'utf8')).includes('"logs/public"'), 5_000)
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: S, LifecycleConfiguration: { Rules: RULES.slice(0, 1) } }))
    const latestIsMarker = async (): Promise<boolean> => (await s3.send(new ListObjectVersionsCommand({ Bucket: S }))).DeleteMarkers?.some(m => m.Key === 'logs/public' && m.IsLatest === true) === true
    await until('the object is expired behind a null marker', latestIsMarker, 20_000)
    assert.deepEqual((await s3.send(new ListObjectVersionsCommand({ Bucket: S }))).Versions ?? [], [], 'the null version went')
    await until('its ACL went with it', async () => !(await readFile(accessFile, 'utf8')).includes('"logs/public"'), 5_000)
  })
})

describe('lifecycle on a five-node mesh', () => {
  const nodes: ServerProcess[] = []
  const clients: S3Client[] = []
  before(async () => {
    nodes.push(...await startMeshProcesses(5, { args: FAST, env: SKEW }))
    for (const n of nodes) clients.push(sdkClient(n.url))
    await clients[0]!.send(new CreateBucketCommand({ Bucket: B }))
    await until('every node has the bucket', async () => (await Promise.all(clients.map(async c => await sdkOutcome(c.send(new PutObjectCommand({ Bucket: B, Key: 'keep/probe', Body: 'p' })))))).every(r => r === 'no error'))
  })
  after(async () => { for (const c of clients) c.destroy(); for (const n of nodes) await n.stop().catch(() => {}) })

  it('a rule that expires 40 objects written through every node deletes each once, by one member, and every node lists them gone', async () => {
    for (let i = 0; i < 40; i++) await clients[i % 5]!.send(new PutObjectCommand({ Bucket: B, Key: `logs/${String(i).padStart(2, '0')}`, Body: `log ${i}` }))
    for (const c of clients) await until('every node lists the 40', async () => (await keys(c)).filter(k => k.startsWith('logs/')).length === 40)
    // Every node runs its rules each second: each would delete them all if each decided.
    await clients[2]!.send(new PutBucketLifecycleConfigurationCommand({ Bucket: B, LifecycleConfiguration: { Rules: RULES.slice(0, 1) } }))
    for (const c of clients) await until('every node lists them gone', async () => !(await keys(c)).some(k => k.startsWith('logs/')), 30_000)
    const counts = await Promise.all(nodes.map(async n => await metric(n, 's3mesh_lifecycle_expired_objects_total')))
    assert.equal(counts.reduce((a, b) => a + b, 0), 40, `deleted once each: ${counts.join(', ')}`)
    assert.equal(counts.filter(c => c > 0).length, 1, `by one member: ${counts.join(', ')}`)
    const passes = await Promise.all(nodes.map(async n => await metric(n, 's3mesh_lifecycle_passes_total')))
    assert.ok(passes.every(p => p > 0), `every node ran its rules: ${passes.join(', ')}`)
    for (const c of clients) assert.deepEqual((await keys(c)).sort(), ['keep/probe'])
    const config = await clients[4]!.send(new GetBucketLifecycleConfigurationCommand({ Bucket: B }))
    assert.deepEqual(config.Rules, RULES.slice(0, 1), 'every node has the configuration')
  })

  it('in a versioned bucket, noncurrent versions and lone delete markers written through every node are deleted once each, by one member', async () => {
    const V = 'aging-versions'
    await clients[0]!.send(new CreateBucketCommand({ Bucket: V }))
    await until('every node has the bucket', async () => (await Promise.all(clients.map(async c => await sdkOutcome(c.send(new GetBucketVersioningCommand({ Bucket: V })))))).every(r => r === 'no error'))
    await clients[1]!.send(new PutBucketVersioningCommand({ Bucket: V, VersioningConfiguration: { Status: 'Enabled' } }))
    for (const c of clients) await until('every node keeps versions', async () => (await c.send(new GetBucketVersioningCommand({ Bucket: V }))).Status === 'Enabled')
    for (let i = 0; i < 10; i++) for (const body of ['old', 'new']) await clients[(i + body.length) % 5]!.send(new PutObjectCommand({ Bucket: V, Key: `v/${i}`, Body: `${body} ${i}` }))
    for (let i = 0; i < 5; i++) await clients[i]!.send(new DeleteObjectCommand({ Bucket: V, Key: `gone/${i}` }))
    const versionsOf = async (c: S3Client): Promise<string[]> => {
      const page = await c.send(new ListObjectVersionsCommand({ Bucket: V }))
      return [...(page.Versions ?? []).map(v => `${v.Key!}${v.IsLatest === true ? '*' : ''}`), ...(page.DeleteMarkers ?? []).map(m => `${m.Key!}:marker`)].sort()
    }
    const current = Array.from({ length: 10 }, (_, i) => `v/${i}*`)
    assert.deepEqual(await versionsOf(clients[3]!), [...Array.from({ length: 5 }, (_, i) => `gone/${i}:marker`), ...Array.from({ length: 10 }, (_, i) => [`v/${i}`, `v/${i}*`]).flat()].sort(), 'precondition: ten noncurrent versions and five lone markers')
    const before = await Promise.all(nodes.map(async n => await metric(n, 's3mesh_lifecycle_expired_versions_total')))
    await clients[4]!.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: V,
      LifecycleConfiguration: { Rules: [{ ID: 'old-versions', Filter: { Prefix: '' }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Expiration: { ExpiredObjectDeleteMarker: true } }] },
    }))
    for (const c of clients) await until('every node lists only the current versions', async () => (await versionsOf(c)).join() === current.sort().join(), 30_000, async () => (await versionsOf(c)).join(' '))
    const counts = (await Promise.all(nodes.map(async n => await metric(n, 's3mesh_lifecycle_expired_versions_total')))).map((n, i) => n - before[i]!)
    assert.equal(counts.reduce((a, b) => a + b, 0), 15, `deleted once each: ${counts.join(', ')}`)
    assert.equal(counts.filter(c => c > 0).length, 1, `by one member: ${counts.join(', ')}`)
    for (const [i, c] of clients.entries()) assert.equal(await (await c.send(new GetObjectCommand({ Bucket: V, Key: 'v/7' }))).Body!.transformToString(), 'new 7', `node ${i} reads the current version`)
  })

  it('in a bucket with object lock, the rules delete no version under retention or a legal hold (every node\'s clock days on, the retentions\' not ended)', async () => {
    const L = 'aging-locked'
    await clients[0]!.send(new CreateBucketCommand({ Bucket: L, ObjectLockEnabledForBucket: true }))
    await until('every node has the lock', async () => (await Promise.all(clients.map(async c => await sdkOutcome(c.send(new GetObjectLockConfigurationCommand({ Bucket: L })))))).every(r => r === 'no error'))
    const tomorrow = new Date(Math.ceil((Date.now() + 86_400_000) / 1000) * 1000)
    const locks = [{ ObjectLockMode: 'COMPLIANCE' as const, ObjectLockRetainUntilDate: tomorrow }, { ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: tomorrow }, { ObjectLockLegalHoldStatus: 'ON' as const }, {}]
    for (const [i, lock] of locks.entries()) {
      await clients[i]!.send(new PutObjectCommand({ Bucket: L, Key: `l/${i}`, Body: `old ${i}`, ...lock }))
      await clients[(i + 1) % 5]!.send(new PutObjectCommand({ Bucket: L, Key: `l/${i}`, Body: `new ${i}` }))
    }
    const noncurrent = async (c: S3Client): Promise<string[]> => ((await c.send(new ListObjectVersionsCommand({ Bucket: L }))).Versions ?? []).filter(v => v.IsLatest !== true).map(v => v.Key!).sort()
    for (const c of clients) await until('every node lists four noncurrent versions', async () => (await noncurrent(c)).length === 4)
    await clients[3]!.send(new PutBucketLifecycleConfigurationCommand({
      Bucket: L, LifecycleConfiguration: { Rules: [{ ID: 'old-versions', Filter: { Prefix: '' }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] },
    }))
    // The unprotected one goes (so the rule has run over the bucket); the three protected stay, on every node.
    for (const c of clients) await until('every node lists the unprotected one gone', async () => (await noncurrent(c)).join() === 'l/0,l/1,l/2', 30_000, async () => (await noncurrent(c)).join())
    await new Promise(resolve => setTimeout(resolve, 2_500))
    for (const [i, c] of clients.entries()) {
      assert.deepEqual(await noncurrent(c), ['l/0', 'l/1', 'l/2'], `node ${i}, after more passes`)
      const old = ((await c.send(new ListObjectVersionsCommand({ Bucket: L, Prefix: 'l/2' }))).Versions ?? []).find(v => v.IsLatest !== true)!
      assert.equal(await (await c.send(new GetObjectCommand({ Bucket: L, Key: 'l/2', VersionId: old.VersionId }))).Body!.transformToString(), 'old 2', `node ${i} reads the held version`)
    }
  })
})
