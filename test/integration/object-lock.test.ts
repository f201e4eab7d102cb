/**
 * S3 Object Lock through real `s3mesh server` processes with the AWS SDK v3
 * (retries off): on a node started with --no-mesh (DiskStore keeps the
 * locks), on a mesh member (its catalog keeps them) and through an edge
 * worker in front of one (its GatewayStore passes them on), the same cases; then
 * across a mesh of three, where a locked version survives a delete sent to
 * every member and a retention or legal hold set on one holds on the others
 * (docs/plans/object-lock.md).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, GetObjectLegalHoldCommand, GetObjectLockConfigurationCommand, GetObjectRetentionCommand,
  HeadBucketCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectLegalHoldCommand, PutObjectLockConfigurationCommand, PutObjectRetentionCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { sdkClient, signer, userSdkClient } from '../helpers/s3-client.js'
import { startMeshProcesses } from '../helpers/mesh-processes.js'
import { edgeInFrontOf } from '../helpers/edge.js'
import { until } from '../helpers/until.js'
import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { iamCall, userWithPolicy } from '../helpers/iam.js'

async function outcome (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return `${(err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode} ${(err as Error).name}` }
  return 'ok'
}

const days = (n: number): Date => new Date(Math.ceil((Date.now() + n * 86_400_000) / 1000) * 1000)

for (const [where, args, edge] of [['a node without the mesh', ['--no-mesh'], false], ['a mesh member', [], false], ['an edge worker in front of a mesh member', [], true]] as const) {
describe(`S3 object lock on ${where} (AWS SDK v3)`, () => {
  let server: ServerProcess
  let front: { url: string, close: () => Promise<void> } | undefined
  let s3: S3Client
  before(async () => {
    server = await startServerProcess({ args: [...args] })
    if (edge) front = await edgeInFrontOf(server)
    s3 = sdkClient(front?.url ?? server.url)
  })
  after(async () => { s3?.destroy(); await front?.close(); await server?.stop() })

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

  // Through the node itself: the edge worker in front passes a user's requests on, and adds nothing to decide here.
  if (!edge) {
    it('shows a version\'s lock on HEAD only to a caller who may read it, and counts no denial for the look', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'shown', ObjectLockEnabledForBucket: true }))
      await s3.send(new PutObjectCommand({ Bucket: 'shown', Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: days(1), ObjectLockLegalHoldStatus: 'ON' }))
      const [id, secret] = await userWithPolicy(iamCall(server.url), 'lockreader', [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::shown/*'] }])
      const reader = userSdkClient(server.url, id, secret)
      const denied = async (): Promise<number> => Number(/^s3mesh_access_denied_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1])
      try {
        const before = await denied()
        assert.ok(Number.isInteger(before), 'the node counts denials')
        const head = await reader.send(new HeadObjectCommand({ Bucket: 'shown', Key: 'k' }))
        assert.deepEqual([head.ObjectLockMode, head.ObjectLockLegalHoldStatus], [undefined, undefined], 'no lock for a reader without s3:GetObjectRetention and s3:GetObjectLegalHold')
        const root = await s3.send(new HeadObjectCommand({ Bucket: 'shown', Key: 'k' }))
        assert.deepEqual([root.ObjectLockMode, root.ObjectLockLegalHoldStatus], ['GOVERNANCE', 'ON'])
        assert.equal(await denied(), before, 'a look at what the answer may show is not a denied request')
        assert.equal(await outcome(reader.send(new GetObjectRetentionCommand({ Bucket: 'shown', Key: 'k' }))), '403 AccessDenied')
        assert.equal(await denied(), before + 1, 'a request refused is counted')
      } finally {
        reader.destroy()
      }
    })
  }

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
}

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

describe('S3 object lock across a mesh of three processes', () => {
  let nodes: ServerProcess[] = []
  let s3: S3Client[] = []
  const B = 'mesh-vault'
  const env = { S3MESH_CLUSTER_KEY: randomBytes(32).toString('base64') }
  before(async () => {
    nodes = await startMeshProcesses(3, { env })
    s3 = nodes.map(n => sdkClient(n.url))
    await s3[0]!.send(new CreateBucketCommand({ Bucket: B, ObjectLockEnabledForBucket: true }))
    await s3[1]!.send(new PutObjectLockConfigurationCommand({ Bucket: B, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } }))
    for (const c of s3) {
      await until('every member has the lock and its default', async () => (await outcome(c.send(new GetObjectLockConfigurationCommand({ Bucket: B })).then(r => {
        if (r.ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode !== 'GOVERNANCE') throw new Error('no default yet')
      }))) === 'ok')
    }
  })
  after(async () => {
    for (const c of s3) c.destroy()
    for (const n of nodes) await n.stop().catch(() => {})
  })

  it('a locked version survives a delete by id sent to every member, in DeleteObject and DeleteObjects; a delete without an id makes a marker', async () => {
    const c = await s3[1]!.send(new PutObjectCommand({ Bucket: B, Key: 'contract.pdf', Body: 'signed', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: days(2) }))
    const g = await s3[2]!.send(new PutObjectCommand({ Bucket: B, Key: 'draft.txt', Body: 'draft' }))
    for (const [i, client] of s3.entries()) {
      await until(`member ${i} has both versions`, async () => (await outcome(client.send(new HeadObjectCommand({ Bucket: B, Key: 'draft.txt', VersionId: g.VersionId })))) === 'ok')
      const head = await client.send(new HeadObjectCommand({ Bucket: B, Key: 'contract.pdf', VersionId: c.VersionId }))
      assert.equal(head.ObjectLockMode, 'COMPLIANCE', `member ${i} shows the lock`)
      assert.equal((await client.send(new HeadObjectCommand({ Bucket: B, Key: 'draft.txt' }))).ObjectLockMode, 'GOVERNANCE', `member ${i}: the default retention, set on member 1`)
      assert.equal(await outcome(client.send(new DeleteObjectCommand({ Bucket: B, Key: 'contract.pdf', VersionId: c.VersionId, BypassGovernanceRetention: true }))), '403 AccessDenied', `member ${i}`)
      assert.equal(await outcome(client.send(new DeleteObjectCommand({ Bucket: B, Key: 'draft.txt', VersionId: g.VersionId }))), '403 AccessDenied', `member ${i}: GOVERNANCE without a bypass`)
      const batch = await client.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: [{ Key: 'contract.pdf', VersionId: c.VersionId }, { Key: 'draft.txt', VersionId: g.VersionId }] } }))
      assert.deepEqual(batch.Errors?.map(e => [e.Key, e.Code]), [['contract.pdf', 'AccessDenied'], ['draft.txt', 'AccessDenied']], `member ${i}`)
    }
    assert.equal((await s3[0]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'contract.pdf' }))).DeleteMarker, true)
    for (const [i, client] of s3.entries()) {
      assert.equal(await (await client.send(new GetObjectCommand({ Bucket: B, Key: 'contract.pdf', VersionId: c.VersionId }))).Body!.transformToString(), 'signed', `member ${i} reads the locked version`)
    }
    // GOVERNANCE bypassed on one member: gone from every member.
    assert.equal((await s3[0]!.send(new DeleteObjectCommand({ Bucket: B, Key: 'draft.txt', VersionId: g.VersionId, BypassGovernanceRetention: true }))).VersionId, g.VersionId)
    for (const [i, client] of s3.entries()) {
      await until(`member ${i} has it gone`, async () => (await outcome(client.send(new HeadObjectCommand({ Bucket: B, Key: 'draft.txt', VersionId: g.VersionId })))) === '404 NotFound')
    }
  })

  it('a legal hold or retention set on one member holds on the others, and is lifted for all', async () => {
    const v = (await s3[2]!.send(new PutObjectCommand({ Bucket: B, Key: 'evidence.bin', Body: 'held' }))).VersionId!
    const at = { Bucket: B, Key: 'evidence.bin', VersionId: v }
    const three = days(3)
    await s3[0]!.send(new PutObjectLegalHoldCommand({ ...at, LegalHold: { Status: 'ON' } }))
    await s3[1]!.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: three } }))
    for (const [i, client] of s3.entries()) {
      await until(`member ${i} has the hold and the retention`, async () => {
        const head = await client.send(new HeadObjectCommand(at))
        return head.ObjectLockLegalHoldStatus === 'ON' && head.ObjectLockRetainUntilDate?.getTime() === three.getTime()
      })
      assert.equal(await outcome(client.send(new DeleteObjectCommand({ ...at, BypassGovernanceRetention: true }))), '403 AccessDenied', `member ${i}: a legal hold`)
      assert.equal(await outcome(client.send(new PutObjectRetentionCommand({ ...at, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: days(2) } }))), '403 AccessDenied', `member ${i}: not shortened`)
    }
    await s3[1]!.send(new PutObjectLegalHoldCommand({ ...at, LegalHold: { Status: 'OFF' } }))
    await until('member 2 has the hold lifted', async () => (await s3[2]!.send(new GetObjectLegalHoldCommand(at))).LegalHold?.Status === 'OFF')
    assert.equal((await s3[2]!.send(new GetObjectRetentionCommand(at))).Retention?.Mode, 'GOVERNANCE', 'the retention kept')
    await s3[2]!.send(new DeleteObjectCommand({ ...at, BypassGovernanceRetention: true }))
    for (const [i, client] of s3.entries()) await until(`member ${i} has it gone`, async () => (await outcome(client.send(new HeadObjectCommand(at)))) === '404 NotFound')
  })

  it('a holder whose catalog was lost takes its copies back with their locks, which the writer gave them', async () => {
    const idOf = (n: ServerProcess): string => n.meshAddress!.split('/p2p/').at(-1)!
    // The writer: the member whose id sorts first, so that a copy taken back elsewhere, dated by its own id, would outrank the writer's entry.
    const writer = nodes.indexOf([...nodes].sort((a, b) => idOf(a) < idOf(b) ? -1 : 1)[0]!)
    const put = await s3[writer]!.send(new PutObjectCommand({ Bucket: B, Key: 'adopted.txt', Body: 'kept with its lock' }))
    const holders = ((await (await signer().fetch(`${nodes[writer]!.url}/_s3mesh/v1/locate/${B}/adopted.txt`)).json()) as { holders: Array<{ id: string }> }).holders.map(h => h.id)
    const replica = nodes.findIndex((n, i) => i !== writer && holders.includes(idOf(n)))
    assert.ok(replica >= 0, `the precondition: a member besides the writer holds it (${holders.join(', ')})`)
    const at = { Bucket: B, Key: 'adopted.txt', VersionId: put.VersionId }
    await until('the replica has the lock', async () => (await s3[replica]!.send(new HeadObjectCommand(at))).ObjectLockMode === 'GOVERNANCE')
    // The replica stops; its catalog is lost (a damaged disk); it starts again and takes back what its store holds.
    const lost = nodes[replica]!
    s3[replica]!.destroy()
    await lost.stop({ remove: false })
    for (const f of ['catalog.db', 'catalog.db-wal', 'catalog.db-shm']) await rm(join(lost.dataDir, '.s3mesh', f), { force: true })
    nodes[replica] = await startServerProcess({ dataDir: lost.dataDir, env, args: ['--membership', 'local', '--replicas', '2', '--join', nodes[writer]!.meshAddress!] })
    s3[replica] = sdkClient(nodes[replica]!.url)
    await until('the replica knows the bucket again', async () => (await outcome(s3[replica]!.send(new HeadObjectCommand(at)))) === 'ok', 30_000)
    for (const [i, client] of s3.entries()) {
      await until(`member ${i} shows the lock`, async () => (await client.send(new HeadObjectCommand(at))).ObjectLockMode === 'GOVERNANCE')
      assert.equal(await outcome(client.send(new DeleteObjectCommand(at))), '403 AccessDenied', `member ${i}`)
    }
  })
})
