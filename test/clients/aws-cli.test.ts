import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { describeClient, makeFixtures, run, sha256File, type Fixtures } from '../helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

// Debian's aws-cli v2; a pyenv aws-cli v1 may come first on PATH, so the path is explicit.
const AWS = '/usr/bin/aws'

describeClient('aws-cli', AWS, 'apt-get install awscli', () => {
  let server: ServerProcess
  let fx: Fixtures
  let env: NodeJS.ProcessEnv
  const aws = async (...args: string[]): Promise<string> =>
    (await run(AWS, ['--endpoint-url', server.url, ...args], env, { unset: ['AWS_CA_BUNDLE', 'AWS_PROFILE'] })).stdout

  before(async () => {
    server = await startServerProcess()
    fx = await makeFixtures()
    const config = join(fx.dir, 'aws-config')
    await writeFile(config, '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n')
    env = { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: join(fx.dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true' }
  })
  after(async () => { await server?.stop(); await fx?.cleanup() })

  it('makes a bucket, puts, lists with prefix and delimiter, gets, presigns, deletes', async () => {
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
})
