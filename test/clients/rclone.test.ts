import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { describeClient, makeFixtures, run, sha256File, type Fixtures } from '../helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const RCLONE = '/usr/bin/rclone'

describeClient('rclone', RCLONE, 'apt-get install rclone', () => {
  let server: ServerProcess
  let fx: Fixtures
  // rclone 1.60 fails with LoadCustomCABundleError when AWS_CA_BUNDLE is set, even for plain HTTP.
  // One try per operation and per request (rclone retries 3 and 10 times by default): the first answer counts.
  const rclone = async (...args: string[]): Promise<string> => (await run(RCLONE, ['--retries', '1', '--low-level-retries', '1', ...args], {
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_MESH_TYPE: 's3', RCLONE_CONFIG_MESH_PROVIDER: 'Other', RCLONE_CONFIG_MESH_ENDPOINT: server.url,
    RCLONE_CONFIG_MESH_ACCESS_KEY_ID: ACCESS_KEY, RCLONE_CONFIG_MESH_SECRET_ACCESS_KEY: SECRET_KEY,
    RCLONE_CONFIG_MESH_FORCE_PATH_STYLE: 'true', RCLONE_CONFIG_MESH_REGION: 'us-east-1',
  }, { unset: ['AWS_CA_BUNDLE'] })).stdout

  before(async () => {
    server = await startServerProcess()
    fx = await makeFixtures()
  })
  after(async () => { await server?.stop(); await fx?.cleanup() })

  it('makes a bucket, copies (multipart), lists, checks, links, purges', async () => {
    await rclone('mkdir', 'mesh:cli-rclone')
    await rclone('copyto', fx.small, 'mesh:cli-rclone/docs/small.txt')
    await rclone('copyto', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', fx.big, 'mesh:cli-rclone/big/fifty.bin')
    assert.deepEqual((await rclone('lsf', 'mesh:cli-rclone')).trim().split('\n'), ['big/', 'docs/'])
    assert.deepEqual((await rclone('lsf', 'mesh:cli-rclone/docs/')).trim().split('\n'), ['small.txt'])
    // rclone check compares sizes and MD5s of both sides.
    await rclone('check', '--one-way', fx.dir, 'mesh:cli-rclone/big', '--include', 'fifty.bin')
    const back = join(fx.dir, 'back.bin')
    await rclone('copyto', 'mesh:cli-rclone/big/fifty.bin', back)
    assert.equal(await sha256File(back), fx.bigSha256)
    const url = (await rclone('link', '--expire', '10m', 'mesh:cli-rclone/docs/small.txt')).trim()
    const res = await fetch(url)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), fx.smallText)
    await rclone('purge', 'mesh:cli-rclone')
    assert.doesNotMatch(await rclone('lsd', 'mesh:'), /cli-rclone/)
  })
})
