import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, it } from 'node:test'
import { describeClient, makeFixtures, run, sha256File, type Fixtures } from '../helpers/cli-clients.js'
import { ACCESS_KEY, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

const S3CMD = '/usr/bin/s3cmd'

describeClient('s3cmd', S3CMD, 'apt-get install s3cmd', () => {
  let server: ServerProcess
  let fx: Fixtures
  let config: string
  // s3cmd retries failed requests (5 times, hard-coded in Debian's 2.3) with no option to stop it; it
  // says so on stderr, so a retry fails the test instead of hiding the first answer.
  const s3cmd = async (...args: string[]): Promise<string> => {
    const { stdout, stderr } = await run(S3CMD, ['-c', config, '--no-progress', ...args])
    assert.doesNotMatch(stderr, /retry|retrying|waiting \d+ sec/i, `s3cmd ${args.join(' ')} retried a request`)
    return stdout
  }

  before(async () => {
    server = await startServerProcess()
    fx = await makeFixtures()
    config = join(fx.dir, 's3cmd.cfg')
    const host = new URL(server.url).host
    await writeFile(config, `[default]\naccess_key = ${ACCESS_KEY}\nsecret_key = ${SECRET_KEY}\nhost_base = ${host}\nhost_bucket = ${host}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n`)
  })
  after(async () => { await server?.stop(); await fx?.cleanup() })

  it('makes a bucket, puts (multipart), lists, gets, signs a URL, sets ACLs, deletes', async () => {
    await s3cmd('mb', 's3://cli-s3cmd')
    await s3cmd('put', fx.small, 's3://cli-s3cmd/docs/small.txt')
    await s3cmd('put', '--multipart-chunk-size-mb=5', fx.big, 's3://cli-s3cmd/big/fifty.bin')
    const ls = await s3cmd('ls', 's3://cli-s3cmd/')
    assert.match(ls, /DIR\s+s3:\/\/cli-s3cmd\/big\//)
    assert.match(ls, /DIR\s+s3:\/\/cli-s3cmd\/docs\//)
    assert.match(await s3cmd('ls', 's3://cli-s3cmd/docs/'), /s3:\/\/cli-s3cmd\/docs\/small\.txt/)
    const info = await s3cmd('info', 's3://cli-s3cmd/big/fifty.bin')
    assert.match(info, /52428800/)
    const back = join(fx.dir, 'back.bin')
    await s3cmd('get', 's3://cli-s3cmd/big/fifty.bin', back)
    assert.equal(await sha256File(back), fx.bigSha256)
    // s3cmd signs URLs with SigV2.
    const url = (await s3cmd('signurl', 's3://cli-s3cmd/docs/small.txt', '+600')).trim()
    const res = await fetch(url)
    assert.equal(res.status, 200, await res.clone().text())
    assert.equal(await res.text(), fx.smallText)
    // setacl sends the object's ACL back with a grant added, as an AccessControlPolicy body.
    const anonymous = async (): Promise<number> => (await fetch(`${server.url}/cli-s3cmd/docs/small.txt`)).status
    assert.equal(await anonymous(), 403, 'the precondition: private')
    await s3cmd('setacl', '--acl-public', 's3://cli-s3cmd/docs/small.txt')
    assert.equal(await anonymous(), 200)
    await s3cmd('setacl', '--acl-private', 's3://cli-s3cmd/docs/small.txt')
    assert.equal(await anonymous(), 403)
    await s3cmd('del', '--recursive', '--force', 's3://cli-s3cmd')
    await s3cmd('rb', 's3://cli-s3cmd')
    assert.doesNotMatch(await s3cmd('ls'), /cli-s3cmd/)
  })
})
