/**
 * S3 Object Lock through the real `s3mesh server` process with the AWS SDK
 * v3 (retries off), on a node started with --no-mesh (DiskStore keeps the
 * locks; docs/plans/object-lock.md, increments 1 to 3); a mesh member, which
 * does not keep them yet, refuses them instead of storing unlocked.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, GetObjectLegalHoldCommand, GetObjectLockConfigurationCommand, GetObjectRetentionCommand,
  HeadBucketCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectLegalHoldCommand, PutObjectLockConfigurationCommand, PutObjectRetentionCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { sdkClient, signer } from '../helpers/s3-client.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'

async function outcome (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return `${(err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode} ${(err as Error).name}` }
  return 'ok'
}

const days = (n: number): Date => new Date(Math.ceil((Date.now() + n * 86_400_000) / 1000) * 1000)

describe('S3 object lock on a node without the mesh (AWS SDK v3)', () => {
  let server: ServerProcess
  let s3: S3Client
  before(async () => {
    server = await startServerProcess({ args: ['--no-mesh'] })
    s3 = sdkClient(server.url)
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('makes a bucket with object lock (versioning on, never suspended) and a default retention each new version gets', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'vault', ObjectLockEnabledForBucket: true }))
    assert.deepEqual((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'vault' }))).ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' })
    assert.equal(await outcome(s3.send(new PutBucketVersioningCommand({ Bucket: 'vault', VersioningConfiguration: { Status: 'Suspended' } }))), '409 InvalidBucketState')
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'vault', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } }))
    assert.deepEqual((await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'vault' }))).ObjectLockConfiguration?.Rule, { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } })
    const put = await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'ledger.txt', Body: 'entry one' }))
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'vault', Key: 'ledger.txt' }))
    assert.equal(head.ObjectLockMode, 'GOVERNANCE')
    const until = head.ObjectLockRetainUntilDate!.getTime()
    assert.ok(until > Date.now() + 86_400_000 - 60_000 && until <= Date.now() + 86_400_000, `a day from the PUT: ${head.ObjectLockRetainUntilDate?.toISOString()}`)
    assert.equal((await s3.send(new GetObjectRetentionCommand({ Bucket: 'vault', Key: 'ledger.txt', VersionId: put.VersionId }))).Retention?.Mode, 'GOVERNANCE')
    assert.equal(await outcome(s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'vault', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 0 } } } }))), '400 InvalidRetentionPeriod')
    // A bucket without object lock: lock headers and the lock APIs are refused as S3 refuses them.
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }))
    assert.equal(await outcome(s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'plain' }))), '404 ObjectLockConfigurationNotFoundError')
    assert.equal(await outcome(s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'plain', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }))), '409 InvalidBucketState', 'not while versioning is off')
    assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'x', ObjectLockLegalHoldStatus: 'ON' }))), '400 InvalidRequest')
    assert.equal(await outcome(s3.send(new HeadObjectCommand({ Bucket: 'plain', Key: 'k' }))), '404 NotFound', 'nothing stored')
  })

  it('keeps a locked version from a delete by id: COMPLIANCE always, GOVERNANCE unless bypassed, a legal hold until lifted; a delete without an id makes a marker', async () => {
    const c = await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'contract.pdf', Body: 'signed', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: days(2) }))
    const g = await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'draft.txt', Body: 'draft' }))
    const h = await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'evidence.bin', Body: 'held', ObjectLockLegalHoldStatus: 'ON' }))
    assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'contract.pdf', VersionId: c.VersionId }))), '403 AccessDenied')
    assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'contract.pdf', VersionId: c.VersionId, BypassGovernanceRetention: true }))), '403 AccessDenied', 'nothing lifts COMPLIANCE')
    assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'draft.txt', VersionId: g.VersionId }))), '403 AccessDenied', 'the default GOVERNANCE retention')
    assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'evidence.bin', VersionId: h.VersionId, BypassGovernanceRetention: true }))), '403 AccessDenied', 'a legal hold')
    const batch = await s3.send(new DeleteObjectsCommand({ Bucket: 'vault', Delete: { Objects: [{ Key: 'contract.pdf', VersionId: c.VersionId }] } }))
    assert.deepEqual(batch.Errors?.map(e => [e.Key, e.Code]), [['contract.pdf', 'AccessDenied']])
    // Without an id: a marker hides the key; the locked version is still there.
    assert.equal((await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'contract.pdf' }))).DeleteMarker, true)
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: 'contract.pdf', VersionId: c.VersionId }))).Body!.transformToString(), 'signed')
    assert.equal((await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'draft.txt', VersionId: g.VersionId, BypassGovernanceRetention: true }))).VersionId, g.VersionId, 'GOVERNANCE bypassed')
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: 'vault', Key: 'evidence.bin', VersionId: h.VersionId, LegalHold: { Status: 'OFF' } }))
    assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket: 'vault', Key: 'evidence.bin', VersionId: h.VersionId }))).LegalHold?.Status, 'OFF')
    // Its default GOVERNANCE retention still holds it; bypassed, it goes.
    assert.equal(await outcome(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'evidence.bin', VersionId: h.VersionId }))), '403 AccessDenied')
    await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'evidence.bin', VersionId: h.VersionId, BypassGovernanceRetention: true }))
  })

  it('changes a retention as S3 allows: extended, shortened only past GOVERNANCE with a bypass, COMPLIANCE never, a past date refused', async () => {
    const v = (await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'terms.txt', Body: 'v1' }))).VersionId
    const at = { Bucket: 'vault', Key: 'terms.txt', VersionId: v }
    await s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: days(5) } }))
    assert.equal(await outcome(s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: days(3) } }))), '403 AccessDenied')
    await s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: days(3) }, BypassGovernanceRetention: true }))
    assert.equal(await outcome(s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: days(4) } }))), '403 AccessDenied', 'made COMPLIANCE only past GOVERNANCE with a bypass')
    const four = days(4)
    await s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: four }, BypassGovernanceRetention: true }))
    assert.equal(await outcome(s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: days(3) }, BypassGovernanceRetention: true }))), '403 AccessDenied')
    assert.equal((await s3.send(new GetObjectRetentionCommand(at))).Retention?.RetainUntilDate?.getTime(), four.getTime())
    assert.equal(await outcome(s3.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() - 60_000) } }))), '400 InvalidArgument')
    const plain = (await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'x' })))
    assert.equal(plain.VersionId, undefined)
    assert.equal(await outcome(s3.send(new GetObjectRetentionCommand({ Bucket: 'plain', Key: 'k' }))), '400 InvalidRequest')
    assert.ok((await s3.send(new HeadBucketCommand({ Bucket: 'vault' }))).$metadata.httpStatusCode === 200)
  })

  it('refuses lock headers a presigned URL does not sign, and other methods on the lock sub-resources', async () => {
    const v = (await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'presigned.txt', Body: 'x' }))).VersionId!
    const url = await signer().sign(`${server.url}/vault/presigned.txt?versionId=${v}`, { method: 'DELETE', aws: { signQuery: true } })
    const added = await fetch(url.url, { method: 'DELETE', headers: { 'x-amz-bypass-governance-retention': 'true' } })
    assert.equal(added.status, 403, 'a bypass added to a presigned DELETE')
    assert.match(await added.text(), /not signed/)
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'vault', Key: 'presigned.txt', VersionId: v }))).ObjectLockMode, 'GOVERNANCE', 'still there')
    const deleteRetention = await signer().fetch(`${server.url}/vault/presigned.txt?retention&versionId=${v}`, { method: 'DELETE' })
    assert.equal(deleteRetention.status, 405, 'DELETE ?retention is not a DeleteObject')
    assert.equal((await signer().fetch(`${server.url}/vault?object-lock`, { method: 'DELETE' })).status, 405, 'nor DELETE ?object-lock a DeleteBucket')
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: 'vault', Key: 'presigned.txt', VersionId: v }))).VersionId, v)
  })
})

describe('a data folder with object lock, started as a mesh member', () => {
  it('is refused with what to do, rather than served unlocked', async () => {
    const lone = await startServerProcess({ args: ['--no-mesh'] })
    const s3 = sdkClient(lone.url)
    await s3.send(new CreateBucketCommand({ Bucket: 'kept-locked', ObjectLockEnabledForBucket: true }))
    s3.destroy()
    await lone.stop({ remove: false })
    await assert.rejects(startServerProcess({ dataDir: lone.dataDir }), (err: Error) => /object lock \(kept-locked\).*--no-mesh/s.test(err.message))
    const again = await startServerProcess({ dataDir: lone.dataDir, args: ['--no-mesh'] })
    await again.stop()
  })
})

describe('S3 object lock on a mesh member (not kept yet)', () => {
  let server: ServerProcess
  let s3: S3Client
  before(async () => {
    server = await startServerProcess()
    s3 = sdkClient(server.url)
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('refuses a bucket with object lock and locked writes, storing nothing unlocked', async () => {
    assert.equal(await outcome(s3.send(new CreateBucketCommand({ Bucket: 'vault', ObjectLockEnabledForBucket: true }))), '501 NotImplemented')
    assert.equal(await outcome(s3.send(new HeadBucketCommand({ Bucket: 'vault' }))), '404 NotFound', 'no bucket was made')
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }))
    assert.equal(await outcome(s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'k', Body: 'x', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: days(1) }))), '400 InvalidRequest')
    assert.equal(await outcome(s3.send(new HeadObjectCommand({ Bucket: 'plain', Key: 'k' }))), '404 NotFound')
    assert.equal(await outcome(s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'plain', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }))), '501 NotImplemented')
  })
})
