import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
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
  const rcloneAt = async (endpoint: string, ...args: string[]): Promise<string> => (await run(RCLONE, ['--retries', '1', '--low-level-retries', '1', ...args], {
    RCLONE_CONFIG: '/dev/null',
    RCLONE_CONFIG_MESH_TYPE: 's3', RCLONE_CONFIG_MESH_PROVIDER: 'Other', RCLONE_CONFIG_MESH_ENDPOINT: endpoint,
    RCLONE_CONFIG_MESH_ACCESS_KEY_ID: ACCESS_KEY, RCLONE_CONFIG_MESH_SECRET_ACCESS_KEY: SECRET_KEY,
    RCLONE_CONFIG_MESH_FORCE_PATH_STYLE: 'true', RCLONE_CONFIG_MESH_REGION: 'us-east-1',
  }, { unset: ['AWS_CA_BUNDLE'] })).stdout
  const rclone = async (...args: string[]): Promise<string> => await rcloneAt(server.url, ...args)

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

  it('keeps versions on a mesh member: turns versioning on, lists and reads old versions (--s3-versions), removes them (cleanup-hidden)', async () => {
    await versionsFlow(server.url)
  })

  it('keeps versions the same on a node without the mesh', async () => {
    const lone = await startServerProcess({ args: ['--no-mesh'] })
    try {
      await versionsFlow(lone.url)
    } finally {
      await lone.stop()
    }
  })

  /** Versioning through rclone, as a backup job uses it, against the node at `url`. */
  const versionsFlow = async (url: string): Promise<void> => {
    const at = async (...args: string[]): Promise<string> => await rcloneAt(url, ...args)
    await at('mkdir', 'mesh:cli-rclone-v')
    await at('backend', 'versioning', 'mesh:cli-rclone-v', 'Enabled')
    assert.equal((await at('backend', 'versioning', 'mesh:cli-rclone-v')).trim(), 'Enabled')
    for (const text of ['first\n', 'second\n']) {
      const file = join(fx.dir, 'notes.txt')
      await writeFile(file, text)
      await at('copyto', file, 'mesh:cli-rclone-v/notes.txt')
    }
    assert.deepEqual((await at('lsf', 'mesh:cli-rclone-v')).trim().split('\n'), ['notes.txt'], 'the current version alone without --s3-versions')
    const all = (await at('lsf', '--s3-versions', 'mesh:cli-rclone-v')).trim().split('\n')
    const old = all.filter(name => name !== 'notes.txt')
    assert.equal(all.length, 2, all.join(', '))
    assert.equal(old.length, 1, all.join(', '))
    assert.match(old[0]!, /^notes-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt$/, 'an old version, named by its time as rclone names them')
    assert.equal(await at('cat', '--s3-versions', `mesh:cli-rclone-v/${old[0]!}`), 'first\n')
    assert.equal(await at('cat', 'mesh:cli-rclone-v/notes.txt'), 'second\n')
    // cleanup-hidden deletes every noncurrent version by its id.
    await at('backend', 'cleanup-hidden', 'mesh:cli-rclone-v')
    assert.deepEqual((await at('lsf', '--s3-versions', 'mesh:cli-rclone-v')).trim().split('\n'), ['notes.txt'])
    assert.equal(await at('cat', 'mesh:cli-rclone-v/notes.txt'), 'second\n')
  }
})
