import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { AWS_UNSET, awsCliEnv, describeClient, makeFixtures, run, sha256File, type Fixtures } from '../helpers/cli-clients.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'

// Debian's aws-cli v2; a pyenv aws-cli v1 may come first on PATH, so the path is explicit.
const AWS = '/usr/bin/aws'

describeClient('aws-cli', AWS, 'apt-get install awscli', () => {
  let server: ServerProcess
  let fx: Fixtures
  let env: NodeJS.ProcessEnv
  const aws = async (...args: string[]): Promise<string> =>
    (await run(AWS, ['--endpoint-url', server.url, ...args], env, { unset: AWS_UNSET })).stdout

  before(async () => {
    server = await startServerProcess()
    fx = await makeFixtures()
    env = await awsCliEnv(fx.dir)
  })
  after(async () => { await server?.stop(); await fx?.cleanup() })

  it('makes a bucket, puts (a checksum kept), reads a part, lists with prefix and delimiter, gets, presigns, deletes', async () => {
    await aws('s3', 'mb', 's3://cli-aws')
    await aws('s3', 'cp', '--no-progress', fx.small, 's3://cli-aws/docs/small.txt')
    await aws('s3', 'cp', '--no-progress', fx.big, 's3://cli-aws/big/fifty.bin')
    const ls = await aws('s3', 'ls', 's3://cli-aws/')
    assert.match(ls, /PRE big\//)
    assert.match(ls, /PRE docs\//)
    const listed = JSON.parse(await aws('s3api', 'list-objects-v2', '--bucket', 'cli-aws', '--prefix', 'docs/', '--delimiter', '/')) as { Contents: Array<{ Key: string }> }
    assert.deepEqual(listed.Contents.map(c => c.Key), ['docs/small.txt'])
    const head = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'cli-aws', '--key', 'big/fifty.bin')) as { ETag: string, ContentLength: number }
    assert.match(head.ETag, /-\d+"$/, 'a 50 MiB upload is multipart')
    assert.equal(head.ContentLength, 50 * 1024 * 1024)
    // A checksum sent with the object is kept, and comes back when asked for (aws-cli checks the bytes against it).
    await aws('s3api', 'put-object', '--bucket', 'cli-aws', '--key', 'docs/summed.txt', '--body', fx.small, '--checksum-algorithm', 'SHA256')
    const small = JSON.parse(await aws('s3api', 'head-object', '--bucket', 'cli-aws', '--key', 'docs/summed.txt', '--checksum-mode', 'ENABLED')) as { ChecksumSHA256?: string }
    assert.equal(small.ChecksumSHA256, createHash('sha256').update(fx.smallText).digest('base64'))
    const got = JSON.parse(await aws('s3api', 'get-object', '--bucket', 'cli-aws', '--key', 'docs/summed.txt', '--checksum-mode', 'ENABLED', join(fx.dir, 'summed.txt'))) as { ChecksumSHA256?: string }
    assert.equal(got.ChecksumSHA256, small.ChecksumSHA256)
    // One part of a multipart object, as it was uploaded (aws-cli's 8 MiB parts).
    const part = JSON.parse(await aws('s3api', 'get-object', '--bucket', 'cli-aws', '--key', 'big/fifty.bin', '--part-number', '7', join(fx.dir, 'part7.bin'))) as { ContentLength: number, PartsCount: number }
    assert.deepEqual([part.ContentLength, part.PartsCount], [2 * 1024 * 1024, 7])
    const back = join(fx.dir, 'back.bin')
    await aws('s3', 'cp', '--no-progress', 's3://cli-aws/big/fifty.bin', back)
    assert.equal(await sha256File(back), fx.bigSha256)
    const url = (await aws('s3', 'presign', 's3://cli-aws/docs/small.txt', '--expires-in', '600')).trim()
    const res = await fetch(url)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), fx.smallText)
    await aws('s3', 'rm', '--recursive', 's3://cli-aws')
    await aws('s3', 'rb', 's3://cli-aws')
    assert.doesNotMatch(await aws('s3', 'ls'), /cli-aws/)
  })

  it('object lock on a mesh member: a bucket made with it, a default retention a 50 MiB multipart upload gets, a COMPLIANCE put, a legal hold, deletes by id refused', async () => {
    const json = async (...args: string[]): Promise<Record<string, any>> => JSON.parse(await aws(...args)) as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
    const refused = async (...args: string[]): Promise<string> => await aws(...args).then(() => 'no error', (err: Error) => /\((\w+)\)/.exec(err.message)?.[1] ?? err.message)
    await aws('s3api', 'create-bucket', '--bucket', 'cli-vault', '--object-lock-enabled-for-bucket')
    await aws('s3api', 'put-object-lock-configuration', '--bucket', 'cli-vault', '--object-lock-configuration', '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":1}}}')
    assert.deepEqual((await json('s3api', 'get-object-lock-configuration', '--bucket', 'cli-vault')).ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } })
    assert.equal((await json('s3api', 'get-bucket-versioning', '--bucket', 'cli-vault')).Status, 'Enabled')
    await aws('s3', 'cp', '--no-progress', fx.big, 's3://cli-vault/backup.bin')
    const big = await json('s3api', 'head-object', '--bucket', 'cli-vault', '--key', 'backup.bin')
    assert.equal(big.ObjectLockMode, 'GOVERNANCE', 'the default retention, given to a completed multipart upload')
    const until = new Date(Math.ceil((Date.now() + 2 * 86_400_000) / 1000) * 1000).toISOString()
    const put = await json('s3api', 'put-object', '--bucket', 'cli-vault', '--key', 'contract.txt', '--body', fx.small, '--object-lock-mode', 'COMPLIANCE', '--object-lock-retain-until-date', until)
    assert.equal((await json('s3api', 'get-object-retention', '--bucket', 'cli-vault', '--key', 'contract.txt', '--version-id', put.VersionId)).Retention.Mode, 'COMPLIANCE')
    assert.equal(await refused('s3api', 'delete-object', '--bucket', 'cli-vault', '--key', 'contract.txt', '--version-id', put.VersionId, '--bypass-governance-retention'), 'AccessDenied')
    await aws('s3api', 'put-object-legal-hold', '--bucket', 'cli-vault', '--key', 'backup.bin', '--version-id', big.VersionId, '--legal-hold', 'Status=ON')
    assert.equal((await json('s3api', 'get-object-legal-hold', '--bucket', 'cli-vault', '--key', 'backup.bin', '--version-id', big.VersionId)).LegalHold.Status, 'ON')
    assert.equal(await refused('s3api', 'delete-object', '--bucket', 'cli-vault', '--key', 'backup.bin', '--version-id', big.VersionId, '--bypass-governance-retention'), 'AccessDenied', 'a legal hold')
    assert.equal(await refused('s3api', 'put-bucket-versioning', '--bucket', 'cli-vault', '--versioning-configuration', 'Status=Suspended'), 'InvalidBucketState')
    // A delete without an id hides the key; the version and its bytes stay.
    await aws('s3', 'rm', 's3://cli-vault/backup.bin')
    const back = join(fx.dir, 'backup-back.bin')
    await aws('s3api', 'get-object', '--bucket', 'cli-vault', '--key', 'backup.bin', '--version-id', big.VersionId, back)
    assert.equal(await sha256File(back), fx.bigSha256)
  })

  it('versioning on a node without the mesh: turned on, every version listed, an old one read back, a delete marker', async () => {
    const lone = await startServerProcess({ args: ['--no-mesh'] })
    try {
      const a = async (...args: string[]): Promise<string> => (await run(AWS, ['--endpoint-url', lone.url, ...args], env, { unset: AWS_UNSET })).stdout
      await a('s3', 'mb', 's3://cli-versions')
      await a('s3api', 'put-bucket-versioning', '--bucket', 'cli-versions', '--versioning-configuration', 'Status=Enabled')
      assert.equal((JSON.parse(await a('s3api', 'get-bucket-versioning', '--bucket', 'cli-versions')) as { Status: string }).Status, 'Enabled')
      const second = join(fx.dir, 'second.txt')
      await writeFile(second, 'the second version')
      const v1 = (JSON.parse(await a('s3api', 'put-object', '--bucket', 'cli-versions', '--key', 'k.txt', '--body', fx.small)) as { VersionId: string }).VersionId
      await a('s3api', 'put-object', '--bucket', 'cli-versions', '--key', 'k.txt', '--body', second)
      await a('s3', 'rm', 's3://cli-versions/k.txt')
      const listed = JSON.parse(await a('s3api', 'list-object-versions', '--bucket', 'cli-versions')) as { Versions: Array<{ VersionId: string, IsLatest: boolean }>, DeleteMarkers: Array<{ IsLatest: boolean }> }
      assert.equal(listed.Versions.length, 2)
      assert.deepEqual(listed.DeleteMarkers.map(m => m.IsLatest), [true])
      const back = join(fx.dir, 'v1.txt')
      await a('s3api', 'get-object', '--bucket', 'cli-versions', '--key', 'k.txt', '--version-id', v1, back)
      assert.equal(await readFile(back, 'utf8'), fx.smallText)
      assert.doesNotMatch(await a('s3', 'ls', 's3://cli-versions/'), /k\.txt/, 'a key behind a delete marker is not listed')
    } finally { await lone.stop() }
  })
})
