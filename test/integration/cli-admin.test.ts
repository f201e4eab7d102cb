/**
 * `s3mesh admin` against a real node, as an operator runs it: users, policies
 * and groups through the node's IAM API, and then what the new user's own
 * keys may do with the AWS SDK (allowed, AccessDenied, InvalidAccessKeyId).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { sdkClient, userSdkClient } from '../helpers/s3-client.js'
import { ACCESS_KEY, BIN, SECRET_KEY, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

interface Run { status: number | null, out: string, stdout: string }

/** The built `s3mesh` with the root keys in its environment, as the banner suggests. */
function s3mesh (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let out = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const timer = setTimeout(() => { child.kill() }, 30_000)
    child.once('error', reject)
    child.once('close', status => { clearTimeout(timer); resolve({ status, out, stdout }) })
  })
}


async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as { port: number }
  await new Promise(resolve => s.close(resolve))
  return port
}

describe('s3mesh admin', () => {
  let server: ServerProcess
  let dir: string
  const admin = (args: string[], env?: NodeJS.ProcessEnv): Promise<Run> => s3mesh(['admin', ...args, '--endpoint', server.url], env)
  const get = (s3: S3Client): Promise<unknown> => s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'hello.txt' })).then(r => r.Body?.transformToString())

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 's3mesh-admin-'))
    server = await startServerProcess({ args: ['--no-mesh', '--no-console'] })
    const root = sdkClient(server.url)
    await root.send(new CreateBucketCommand({ Bucket: 'shared' }))
    await root.send(new PutObjectCommand({ Bucket: 'shared', Key: 'hello.txt', Body: 'hello' }))
  })

  after(async () => {
    await server?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('exits 2 with the usage line on usage errors', async () => {
    const unknown = await admin(['user', 'frob'])
    assert.equal(unknown.status, 2, unknown.out)
    assert.match(unknown.out, /unknown command 'frob'/)
    assert.match(unknown.out, /Usage: s3mesh admin user \[options\] \[command\]/)
    const missing = await admin(['user', 'add', 'onlykey'])
    assert.equal(missing.status, 2, missing.out)
    assert.match(missing.out, /missing required argument 'SECRET_KEY'/)
    assert.match(missing.out, /Usage: s3mesh admin user add \[options\] <ACCESS_KEY> <SECRET_KEY>/)
    const target = await admin(['policy', 'attach', 'readonly'])
    assert.equal(target.status, 2, target.out)
    assert.match(target.out, /Give --user ACCESS_KEY or --group GROUP/)
    const bare = await s3mesh(['admin'])
    assert.equal(bare.status, 2, bare.out)
    assert.match(bare.out, /Usage: s3mesh admin/)
    const noKeys = await admin(['user', 'list'], { S3MESH_ROOT_USER: undefined, S3MESH_ROOT_PASSWORD: undefined })
    assert.equal(noKeys.status, 2, noKeys.out)
    assert.match(noKeys.out, /Give the root keys/)
    const emptyKeys = await admin(['user', 'list', '--access-key', '', '--secret-key', ''], { S3MESH_ROOT_USER: '', S3MESH_ROOT_PASSWORD: '' })
    assert.equal(emptyKeys.status, 2, emptyKeys.out)
    assert.match(emptyKeys.out, /Give the root keys/, 'empty keys are no keys')
    const fallBack = await admin(['user', 'list', '--access-key', '', '--secret-key', ''])
    assert.equal(fallBack.status, 0, `empty flags give way to the keys in the environment: ${fallBack.out}`)
    // A file that never ends is not read whole (it took half a gigabyte before an error that said nothing of the file).
    const endless = await admin(['policy', 'add', 'endless', '/dev/zero'])
    assert.equal(endless.status, 1, endless.out)
    assert.match(endless.out, /The policy file \/dev\/zero is longer than 65536 bytes/)
  })

  it('names the endpoint it cannot reach and suggests --endpoint', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const r = await s3mesh(['admin', 'user', 'list', '--endpoint', url])
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, new RegExp(`Cannot reach ${url.replace(/\./g, '\\.')}`))
    assert.match(r.out, /--endpoint URL/)
  })

  it('refuses a wrong root secret with the code and what to check', async () => {
    const r = await admin(['user', 'list', '--secret-key', 'not-the-root-secret'])
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, /^s3mesh: SignatureDoesNotMatch: /m)
    assert.match(r.out, /--secret-key or S3MESH_ROOT_PASSWORD/)
    assert.doesNotMatch(r.out, /at .*\.js:\d+/, 'no stack trace')
  })

  it('adds a readonly user whose own keys may GET but not PUT, and lists and shows it', async () => {
    const added = await admin(['user', 'add', 'reader', 'reader-secret-1', '--policy', 'readonly'])
    assert.equal(added.status, 0, added.out)
    assert.match(added.out, /Added user reader with policy readonly/)
    const s3 = userSdkClient(server.url, 'reader', 'reader-secret-1')
    assert.equal(await get(s3), 'hello')
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'new.txt', Body: 'x' })), { name: 'AccessDenied' })

    const listed = await admin(['user', 'list'])
    assert.equal(listed.status, 0, listed.out)
    assert.match(listed.out, /^USER\s+STATUS\s+ACCESS KEYS\s+POLICIES$/m)
    assert.match(listed.out, /^reader\s+enabled\s+reader\s+readonly$/m)
    const json = JSON.parse((await admin(['user', 'list', '--json'])).stdout) as Array<{ user: string, status: string, accessKeys: Array<{ id: string }>, policies: string[] }>
    assert.deepEqual(json.find(u => u.user === 'reader'), { user: 'reader', status: 'enabled', accessKeys: [{ id: 'reader', status: 'Active' }], policies: ['readonly'], inlinePolicies: [] })
    const info = await admin(['user', 'info', 'reader'])
    assert.equal(info.status, 0, info.out)
    assert.match(info.out, /Status:\s+enabled/)
    assert.match(info.out, /Access keys:\s+reader \(active\)/)
    assert.match(info.out, /Policies:\s+readonly/)
    assert.match(info.out, /Groups:\s+-/)
  })

  it('disables a user (its keys get InvalidAccessKeyId) and enables it again', async () => {
    const s3 = userSdkClient(server.url, 'reader', 'reader-secret-1')
    const off = await admin(['user', 'disable', 'reader'])
    assert.equal(off.status, 0, off.out)
    assert.match(off.out, /Disabled user reader/)
    await assert.rejects(get(s3), { name: 'InvalidAccessKeyId' })
    assert.match((await admin(['user', 'list'])).out, /^reader\s+disabled/m)
    const on = await admin(['user', 'enable', 'reader'])
    assert.equal(on.status, 0, on.out)
    assert.equal(await get(s3), 'hello')
  })

  it('adds, shows, attaches, detaches and removes a policy, and names the file and statement of a malformed one', async () => {
    const bad = join(dir, 'bad-policy.json')
    await writeFile(bad, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject' }] }))
    const malformed = await admin(['policy', 'add', 'broken', bad])
    assert.equal(malformed.status, 1, malformed.out)
    assert.match(malformed.out, /MalformedPolicyDocument/)
    assert.ok(malformed.out.includes(bad), 'names the file')
    assert.match(malformed.out, /Statement 1: exactly one of Resource and NotResource/)
    const missing = await admin(['policy', 'add', 'broken', join(dir, 'nope.json')])
    assert.equal(missing.status, 1, missing.out)
    assert.match(missing.out, /Cannot read the policy file .*nope\.json: there is no such file/)
    assert.doesNotMatch((await admin(['policy', 'list'])).out, /broken/, 'nothing was created')

    const good = join(dir, 'writer.json')
    await writeFile(good, JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::shared/*' }] }))
    const added = await admin(['policy', 'add', 'shared-writer', good])
    assert.equal(added.status, 0, added.out)
    const info = await admin(['policy', 'info', 'shared-writer'])
    assert.equal(info.status, 0, info.out)
    assert.match(info.out, /^ {2}"Statement": \[$/m, 'pretty JSON')
    assert.deepEqual(JSON.parse(info.stdout), JSON.parse(await readFile(good, 'utf8')))

    const s3 = userSdkClient(server.url, 'reader', 'reader-secret-1')
    const put = (): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'from-reader.txt', Body: 'x' }))
    const attached = await admin(['policy', 'attach', 'shared-writer', '--user', 'reader'])
    assert.equal(attached.status, 0, attached.out)
    assert.match(attached.out, /Attached shared-writer to user reader/)
    await put()
    assert.match((await admin(['policy', 'list'])).out, /^shared-writer\s+custom\s+1$/m)
    const busy = await admin(['policy', 'remove', 'shared-writer'])
    assert.equal(busy.status, 1, busy.out)
    assert.match(busy.out, /DeleteConflict: .*\n.*policy detach shared-writer/)
    const detached = await admin(['policy', 'detach', 'shared-writer', '--user', 'reader'])
    assert.equal(detached.status, 0, detached.out)
    await assert.rejects(put(), { name: 'AccessDenied' })
    const removed = await admin(['policy', 'remove', 'shared-writer'])
    assert.equal(removed.status, 0, removed.out)
    const gone = await admin(['policy', 'info', 'shared-writer'])
    assert.equal(gone.status, 1, gone.out)
    assert.match(gone.out, /NoSuchEntity/)
  })

  it('leaves nothing half-made when a step of user add fails, and says so', async () => {
    const r = await admin(['user', 'add', 'halfway', 'halfway-secret', '--policy', 'readonly', '--policy', 'no-such-policy'])
    assert.equal(r.status, 1, r.out)
    assert.match(r.out, /^s3mesh: NoSuchEntity: Policy no-such-policy does not exist/m)
    assert.match(r.out, /User halfway was not added \(the steps already done were undone\)/)
    assert.doesNotMatch((await admin(['user', 'list'])).out, /halfway/)
    await assert.rejects(get(userSdkClient(server.url, 'halfway', 'halfway-secret')), { name: 'InvalidAccessKeyId' })
    const taken = await admin(['user', 'add', 'reader', 'another-secret'])
    assert.equal(taken.status, 1, taken.out)
    assert.match(taken.out, /EntityAlreadyExists/)
    assert.equal(await get(userSdkClient(server.url, 'reader', 'reader-secret-1')), 'hello', 'the existing user is untouched')
  })

  it('adds a group with members, lists it, and removes members and group', async () => {
    const added = await admin(['group', 'add', 'readers', 'reader'])
    assert.equal(added.status, 0, added.out)
    assert.equal((await admin(['policy', 'attach', 'readwrite', '--group', 'readers'])).status, 0)
    assert.match((await admin(['group', 'list'])).out, /^readers\s+reader\s+readwrite$/m)
    assert.match((await admin(['user', 'info', 'reader'])).out, /Groups:\s+readers/)
    const busy = await admin(['group', 'remove', 'readers'])
    assert.equal(busy.status, 1, busy.out)
    assert.match(busy.out, /DeleteConflict/)
    assert.equal((await admin(['group', 'remove', 'readers', 'reader'])).status, 0)
    assert.equal((await admin(['policy', 'detach', 'readwrite', '--group', 'readers'])).status, 0)
    const removed = await admin(['group', 'remove', 'readers'])
    assert.equal(removed.status, 0, removed.out)
    assert.match((await admin(['group', 'list'])).out, /No groups yet/)
  })

  it('removes a user with its keys and policies: gone from the list, its key refused', async () => {
    assert.equal((await admin(['group', 'add', 'leavers', 'reader'])).status, 0)
    const r = await admin(['user', 'remove', 'reader'])
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /Removed user reader/)
    assert.doesNotMatch((await admin(['user', 'list'])).out, /reader/)
    assert.match((await admin(['group', 'list'])).out, /^leavers\s+-/m)
    await assert.rejects(get(userSdkClient(server.url, 'reader', 'reader-secret-1')), { name: 'InvalidAccessKeyId' })
    const again = await admin(['user', 'remove', 'reader'])
    assert.equal(again.status, 1, again.out)
    assert.match(again.out, /NoSuchEntity: No user is named reader/)
  })
})
