/**
 * A tagged object read through a GatewayStore that signs with its caller's
 * keys (a tab's service worker, reading what IndexedDB lacks from its node):
 * a GET or HEAD needs s3:GetObject only, as at S3, and answers the tags'
 * number; GetObjectTagging needs s3:GetObjectTagging only. Against a real
 * node with IAM users, through the S3 handler a service worker runs.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemoryStore } from '../../src/core/memory-store.js'
import { GatewayStore } from '../../src/gateway/gateway-store.js'
import { ReadThroughStore } from '../../src/gateway/read-through-store.js'
import { RemoteS3 } from '../../src/gateway/remote-s3.js'
import { startServer, type RunningServer } from '../../src/node/server.js'
import { createS3Handler, type S3Handler } from '../../src/s3-shim/index.js'
import { s3Signer } from '../../src/core/s3-signer.js'
import { iamCall, userWithPolicy } from '../helpers/iam.js'
import { errorCode, signer } from '../helpers/s3-client.js'
import { ACCESS_KEY, SECRET_KEY } from '../helpers/server-process.js'

describe('tags read through a gateway with its caller\'s keys', () => {
  let root: string
  let server: RunningServer
  const gatewayOf = (accessKeyId: string, secretAccessKey: string): GatewayStore => new GatewayStore({
    remote: new RemoteS3({ endpoints: [server.url], accessKeyId, secretAccessKey, timeoutMs: 10_000, retryAfterMs: 0 }),
    cacheTtlMs: 0, cacheMaxObjectBytes: 0, replayableBytes: 0,
  })
  /** A service worker's handler for a user: IndexedDB (here memory) first, the node for what it lacks. */
  const workerFor = (accessKeyId: string, secretAccessKey: string): S3Handler => {
    const gateway = gatewayOf(accessKeyId, secretAccessKey)
    const store = new ReadThroughStore({ local: new MemoryStore(), remote: async () => ({ store: gateway, name: 'the node' }) })
    return createS3Handler({ store, allowAnonymous: () => true })
  }
  let reader: S3Handler
  let tagReader: S3Handler

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 's3mesh-gateway-tags-'))
    server = await startServer({ dataDir: root, host: '127.0.0.1', port: 0, fsync: false, env: { S3MESH_ROOT_USER: ACCESS_KEY, S3MESH_ROOT_PASSWORD: SECRET_KEY } })
    const call = iamCall(server.url)
    reader = workerFor(...await userWithPolicy(call, 'reader', [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::tagged/*' }]))
    tagReader = workerFor(...await userWithPolicy(call, 'tag-reader', [{ Effect: 'Allow', Action: 's3:GetObjectTagging', Resource: 'arn:aws:s3:::tagged/*' }]))
    const s3 = signer()
    assert.equal((await s3.fetch(`${server.url}/tagged`, { method: 'PUT' })).status, 200)
    assert.equal((await s3.fetch(`${server.url}/tagged/a.txt`, { method: 'PUT', body: 'tagged bytes', headers: { 'x-amz-tagging': 'team=blue&tier=gold' } })).status, 200)
  })
  after(async () => { await server?.close(); await rm(root, { recursive: true, force: true }) })

  const url = (path: string): string => `http://tab.test${path}`

  it('a user who may only read the object reads it and its tags\' number, and not the tags', async () => {
    const got = await reader(new Request(url('/tagged/a.txt')))
    assert.equal(got.status, 200, await got.clone().text())
    assert.equal(await got.text(), 'tagged bytes')
    assert.equal(got.headers.get('x-amz-tagging-count'), '2')
    const head = await reader(new Request(url('/tagged/a.txt'), { method: 'HEAD' }))
    assert.deepEqual([head.status, head.headers.get('x-amz-tagging-count')], [200, '2'])
    const tags = await reader(new Request(url('/tagged/a.txt?tagging')))
    assert.deepEqual([tags.status, errorCode(await tags.text())], [403, 'AccessDenied'], 'the node decides the tags, which this user may not read')
  })

  it('a user who may only read tags reads them, and not the object', async () => {
    const tags = await tagReader(new Request(url('/tagged/a.txt?tagging')))
    const xml = await tags.text()
    assert.equal(tags.status, 200, xml)
    assert.match(xml, /<Tag><Key>team<\/Key><Value>blue<\/Value><\/Tag><Tag><Key>tier<\/Key><Value>gold<\/Value><\/Tag>/)
    assert.equal((await tagReader(new Request(url('/tagged/a.txt')))).status, 403)
  })

  it('decided here with the mesh\'s policies (a tab\'s own handler), a read looks the tags up only where a policy names them for it, and those of a tagged object only', async () => {
    const call = iamCall(server.url)
    const s3 = signer()
    assert.equal((await s3.fetch(`${server.url}/tagged/plain.txt`, { method: 'PUT', body: 'no tags' })).status, 200)
    const [id, secret] = await userWithPolicy(call, 'local-reader', [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::tagged/*' }])
    const user = s3Signer({ accessKeyId: id, secretAccessKey: secret })
    // Here, as in a tab, the user's own keys reach the node, and the decision is made before with the mesh's policies.
    const local = createS3Handler({ store: gatewayOf(id, secret), access: server.access })
    const read = async (key: string): Promise<Response> => await local(await user.sign(url(`/tagged/${key}`)))
    const setPolicy = async (statement: Record<string, unknown>): Promise<void> => {
      const res = await s3.fetch(`${server.url}/tagged?policy`, { method: 'PUT', body: JSON.stringify({ Version: '2012-10-17', Statement: [{ Principal: '*', Resource: 'arn:aws:s3:::tagged/*', ...statement }] }) })
      assert.equal(res.status, 204, await res.text())
    }
    // A condition on tags for deletes says nothing of reads: no tag lookup (which this user may not make) for a read.
    await setPolicy({ Effect: 'Deny', Action: 's3:DeleteObject', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'gold' } } })
    for (const key of ['a.txt', 'plain.txt']) assert.equal((await read(key)).status, 200, key)
    // One for reads: an object without tags is read (its HEAD says it has none); a tagged one needs its tags, which only
    // s3:GetObjectTagging may read, so it is refused rather than read unchecked.
    await setPolicy({ Effect: 'Deny', Action: 's3:GetObject', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'silver' } } })
    assert.equal((await read('plain.txt')).status, 200)
    const tagged = await read('a.txt')
    assert.deepEqual([tagged.status, errorCode(await tagged.text())], [403, 'AccessDenied'])
    // One for the tags' own reads: a user who may only read tags has them read directly, not after a HEAD it may not make.
    const [tagId, tagSecret] = await userWithPolicy(call, 'local-tag-reader', [{ Effect: 'Allow', Action: 's3:GetObjectTagging', Resource: 'arn:aws:s3:::tagged/*' }])
    const tagUser = s3Signer({ accessKeyId: tagId, secretAccessKey: tagSecret })
    const tagsHere = createS3Handler({ store: gatewayOf(tagId, tagSecret), access: server.access })
    const readTags = async (): Promise<Response> => await tagsHere(await tagUser.sign(url('/tagged/a.txt?tagging')))
    await setPolicy({ Effect: 'Deny', Action: 's3:GetObjectTagging', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'silver' } } })
    const allowed = await readTags()
    assert.equal(allowed.status, 200, await allowed.clone().text())
    assert.match(await allowed.text(), /<Key>tier<\/Key><Value>gold<\/Value>/)
    await setPolicy({ Effect: 'Deny', Action: 's3:GetObjectTagging', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'gold' } } })
    assert.equal((await readTags()).status, 403, 'and the Deny holds')
    // One for tag changes: a user who may read objects and set tags, not read them, sets those of an object without any
    // (its HEAD says there are none to check); of a tagged one, whose tags it may not read, it is refused.
    const [setId, setSecret] = await userWithPolicy(call, 'local-tag-setter', [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObjectTagging'], Resource: 'arn:aws:s3:::tagged/*' }])
    const setter = s3Signer({ accessKeyId: setId, secretAccessKey: setSecret })
    const setHere = createS3Handler({ store: gatewayOf(setId, setSecret), access: server.access })
    const setTags = async (key: string): Promise<Response> => await setHere(await setter.sign(url(`/tagged/${key}?tagging`), { method: 'PUT', body: '<Tagging><TagSet><Tag><Key>tier</Key><Value>bronze</Value></Tag></TagSet></Tagging>' }))
    await setPolicy({ Effect: 'Deny', Action: 's3:PutObjectTagging', Condition: { StringEquals: { 's3:ExistingObjectTag/tier': 'silver' } } })
    const set = await setTags('plain.txt')
    assert.equal(set.status, 200, await set.clone().text())
    assert.equal((await setTags('a.txt')).status, 403)
    assert.match(await (await s3.fetch(`${server.url}/tagged/a.txt?tagging`)).text(), /<Value>gold<\/Value>/, 'a.txt\'s tags unchanged')
    assert.equal((await s3.fetch(`${server.url}/tagged?policy`, { method: 'DELETE' })).status, 204)
  })

  it('a copy through a gateway keeps the source\'s tags (read apart from its bytes)', async () => {
    const edge = createS3Handler({ store: gatewayOf(ACCESS_KEY, SECRET_KEY), allowAnonymous: () => true })
    const copied = await edge(new Request(url('/tagged/b.txt'), { method: 'PUT', headers: { 'x-amz-copy-source': '/tagged/a.txt' } }))
    assert.equal(copied.status, 200, await copied.clone().text())
    const tags = await (await signer().fetch(`${server.url}/tagged/b.txt?tagging`)).text()
    assert.match(tags, /<Key>team<\/Key><Value>blue<\/Value>.*<Key>tier<\/Key><Value>gold<\/Value>/)
  })
})
