/**
 * Conditional writes (If-None-Match: *, If-Match) with the AWS SDK against
 * real servers: one node without a mesh (the disk store decides), one mesh
 * member (its arbiter is itself), and three processes racing to create the
 * same keys through different nodes: exactly one write of each key wins,
 * and every node serves that one. Conditional deletes (If-Match on
 * DeleteObject, an ETag in DeleteObjects) likewise: of two racing, one wins.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListPartsCommand, PutObjectCommand,
  UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3'
import { sdkClient, signer } from '../helpers/s3-client.js'
import { startMeshProcesses } from '../helpers/mesh-processes.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { until } from '../helpers/until.js'

const B = 'conditional'
const sign = signer()

/** What a PUT answered: the HTTP status, and the error code if refused. */
async function put (s3: S3Client, key: string, body: string | Uint8Array, condition: { IfNoneMatch?: string, IfMatch?: string } = {}): Promise<{ status: number, code?: string, etag?: string }> {
  try {
    const r = await s3.send(new PutObjectCommand({ Bucket: B, Key: key, Body: body, ...condition }))
    return { status: 200, ...(r.ETag === undefined ? {} : { etag: r.ETag }) }
  } catch (err) {
    const e = err as { name: string, $metadata?: { httpStatusCode?: number } }
    return { status: e.$metadata?.httpStatusCode ?? 0, code: e.name }
  }
}

/** What a DELETE answered: the HTTP status, and the error code if refused. */
async function del (s3: S3Client, key: string, ifMatch?: string): Promise<{ status: number, code?: string }> {
  try {
    const r = await s3.send(new DeleteObjectCommand({ Bucket: B, Key: key, ...(ifMatch === undefined ? {} : { IfMatch: ifMatch }) }))
    return { status: r.$metadata.httpStatusCode ?? 0 }
  } catch (err) {
    const e = err as { name: string, $metadata?: { httpStatusCode?: number } }
    return { status: e.$metadata?.httpStatusCode ?? 0, code: e.name }
  }
}

const exists = async (s3: S3Client, key: string): Promise<boolean> =>
  await s3.send(new HeadObjectCommand({ Bucket: B, Key: key })).then(() => true, (e: { name: string }) => { if (e.name === 'NotFound') return false; throw e })

const read = async (s3: S3Client, key: string): Promise<string> => await (await s3.send(new GetObjectCommand({ Bucket: B, Key: key }))).Body!.transformToString()

/** The cases every store answers alike, on one node. */
function singleNodeCases (start: () => Promise<ServerProcess>): void {
  let server: ServerProcess
  let s3: S3Client
  before(async () => {
    server = await start()
    s3 = sdkClient(server.url)
    await s3.send(new CreateBucketCommand({ Bucket: B }))
  })
  after(async () => { s3?.destroy(); await server?.stop() })

  it('If-None-Match: * creates a key once: the second write is refused with 412 and the first stays', async () => {
    assert.equal((await put(s3, 'once', 'first', { IfNoneMatch: '*' })).status, 200)
    assert.deepEqual(await put(s3, 'once', 'second', { IfNoneMatch: '*' }), { status: 412, code: 'PreconditionFailed' })
    assert.equal(await read(s3, 'once'), 'first')
  })

  it('If-Match writes over the version it names only: 412 for another ETag, 404 when there is no object', async () => {
    const first = await put(s3, 'cas', 'v1')
    assert.deepEqual(await put(s3, 'cas', 'stale', { IfMatch: '"0123456789abcdef0123456789abcdef"' }), { status: 412, code: 'PreconditionFailed' })
    const second = await put(s3, 'cas', 'v2', { IfMatch: first.etag! })
    assert.equal(second.status, 200)
    assert.deepEqual(await put(s3, 'cas', 'v3', { IfMatch: first.etag! }), { status: 412, code: 'PreconditionFailed' }, 'the ETag it named is no longer the object\'s')
    assert.equal(await read(s3, 'cas'), 'v2')
    assert.deepEqual(await put(s3, 'never-written', 'x', { IfMatch: first.etag! }), { status: 404, code: 'NoSuchKey' })
    const other = await sign.fetch(`${server.url}/${B}/cas`, { method: 'PUT', body: 'x', headers: { 'if-none-match': '"abc"' } })
    assert.equal(other.status, 501, 'If-None-Match on a write takes only *')
  })

  it('eight concurrent creates of one key: exactly one wins, the others get 412 or 409', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, async (_, i) => await put(s3, 'raced', `writer ${i}`, { IfNoneMatch: '*' })))
    const won = answers.flatMap((a, i) => a.status === 200 ? [i] : [])
    assert.equal(won.length, 1, JSON.stringify(answers))
    assert.ok(answers.every(a => a.status === 200 || a.code === 'PreconditionFailed' || a.code === 'ConditionalRequestConflict'), JSON.stringify(answers))
    assert.equal(await read(s3, 'raced'), `writer ${won[0]}`)
  })

  it('DeleteObject with If-Match deletes only the object it names (any, for *): 412 for another ETag, 404 for no object; DeleteObjects takes an ETag per key', async () => {
    const first = await put(s3, 'del-cas', 'v1')
    assert.deepEqual(await del(s3, 'del-cas', '"0123456789abcdef0123456789abcdef"'), { status: 412, code: 'PreconditionFailed' })
    assert.equal(await read(s3, 'del-cas'), 'v1', 'a refused delete deletes nothing')
    assert.deepEqual(await del(s3, 'del-cas', first.etag!), { status: 204 })
    assert.equal(await exists(s3, 'del-cas'), false)
    assert.deepEqual(await del(s3, 'del-cas', first.etag!), { status: 404, code: 'NoSuchKey' }, 'deleted once, not twice')
    assert.deepEqual(await del(s3, 'del-cas', '*'), { status: 404, code: 'NoSuchKey' })
    await put(s3, 'del-cas', 'v2')
    assert.deepEqual(await del(s3, 'del-cas', '*'), { status: 204 })
    const kept = await put(s3, 'batch-kept', 'k')
    const gone = await put(s3, 'batch-gone', 'g')
    const r = await s3.send(new DeleteObjectsCommand({
      Bucket: B,
      Delete: { Objects: [{ Key: 'batch-kept', ETag: gone.etag! }, { Key: 'batch-gone', ETag: gone.etag! }, { Key: 'batch-none', ETag: '*' }] },
    }))
    assert.deepEqual(r.Deleted?.map(d => d.Key), ['batch-gone'])
    assert.deepEqual(r.Errors?.map(e => [e.Key, e.Code]), [['batch-kept', 'PreconditionFailed'], ['batch-none', 'NoSuchKey']])
    assert.equal(await read(s3, 'batch-kept'), 'k')
    assert.equal(await exists(s3, 'batch-gone'), false)
    assert.notEqual(kept.etag, gone.etag)
  })

  it('CompleteMultipartUpload with If-None-Match on a key that exists is refused and the upload stays; without, it completes', async () => {
    await put(s3, 'multi', 'already here')
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'multi' }))
    const part = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'multi', UploadId, PartNumber: 1, Body: 'the parts' }))
    const parts = { Parts: [{ PartNumber: 1, ETag: part.ETag! }] }
    await assert.rejects(s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'multi', UploadId, MultipartUpload: parts, IfNoneMatch: '*' })), (e: { name: string }) => e.name === 'PreconditionFailed')
    assert.equal(await read(s3, 'multi'), 'already here')
    assert.equal((await s3.send(new ListPartsCommand({ Bucket: B, Key: 'multi', UploadId }))).Parts?.length, 1, 'the upload is still there')
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'multi', UploadId, MultipartUpload: parts }))
    assert.equal(await read(s3, 'multi'), 'the parts')
    const { UploadId: fresh } = await s3.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'multi-new' }))
    const p = await s3.send(new UploadPartCommand({ Bucket: B, Key: 'multi-new', UploadId: fresh, PartNumber: 1, Body: 'new' }))
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'multi-new', UploadId: fresh, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag! }] }, IfNoneMatch: '*' }))
    assert.equal(await read(s3, 'multi-new'), 'new')
  })
}

describe('conditional writes, one node without a mesh', () => { singleNodeCases(async () => await startServerProcess({ args: ['--no-mesh'] })) })
describe('conditional writes, one mesh member', () => { singleNodeCases(async () => await startServerProcess()) })

describe('conditional writes across three mesh processes', () => {
  const nodes: ServerProcess[] = []
  const clients: S3Client[] = []
  before(async () => {
    nodes.push(...await startMeshProcesses(3))
    for (const n of nodes) clients.push(sdkClient(n.url))
    await clients[0]!.send(new CreateBucketCommand({ Bucket: B }))
    await until('every node has the bucket', async () => (await Promise.all(clients.map(async c => await put(c, 'probe', 'p')))).every(a => a.status === 200))
  })
  after(async () => { for (const c of clients) c.destroy(); for (const n of nodes) await n.stop().catch(() => {}) })

  it('two nodes racing to create each of 20 keys: exactly one write of each wins, and every node serves it', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `race-${i}`)
    const results = await Promise.all(keys.map(async key => {
      const [a, b] = await Promise.all([put(clients[0]!, key, `${key} from node 1`, { IfNoneMatch: '*' }), put(clients[2]!, key, `${key} from node 3`, { IfNoneMatch: '*' })])
      return { key, a, b }
    }))
    for (const { key, a, b } of results) {
      const winners = [a, b].filter(r => r.status === 200)
      assert.equal(winners.length, 1, `${key}: ${JSON.stringify([a, b])}`)
      const loser = a.status === 200 ? b : a
      assert.ok(loser.code === 'PreconditionFailed' || loser.code === 'ConditionalRequestConflict', `${key}: ${JSON.stringify(loser)}`)
      const expected = `${key} from node ${a.status === 200 ? 1 : 3}`
      for (const c of clients) assert.equal(await read(c, key), expected, `${key}: every node serves the winner`)
    }
  })

  it('two nodes racing to delete each of 10 keys on the same ETag: exactly one delete of each wins, and the key can be created again at once through the third', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `del-race-${i}`)
    const etags = await Promise.all(keys.map(async key => (await put(clients[1]!, key, key)).etag!))
    const results = await Promise.all(keys.map(async (key, i) => {
      const [a, b] = await Promise.all([del(clients[0]!, key, etags[i]!), del(clients[2]!, key, etags[i]!)])
      return { key, a, b }
    }))
    for (const { key, a, b } of results) {
      const winners = [a, b].filter(r => r.status === 204)
      assert.equal(winners.length, 1, `${key}: ${JSON.stringify([a, b])}`)
      const loser = a.status === 204 ? b : a
      assert.ok(loser.code === 'NoSuchKey' || loser.code === 'ConditionalRequestConflict', `${key}: ${JSON.stringify(loser)}`)
      // At once: the arbiter knows the key is empty before the catalog's owners need have heard.
      assert.equal((await put(clients[1]!, key, 'again', { IfNoneMatch: '*' })).status, 200, `${key}: created again`)
    }
    for (const c of clients) for (const key of keys) await until('every node serves the new object', async () => await read(c, key).catch(() => '') === 'again')
  })

  it('a key created through node 1 cannot be created again through node 2 or 3, at once; If-Match through node 3 names node 1\'s write', async () => {
    const first = await put(clients[0]!, 'made-on-1', 'one', { IfNoneMatch: '*' })
    assert.equal(first.status, 200)
    // At once: the arbiter knows the write before any announcement need have reached the others.
    assert.deepEqual(await put(clients[1]!, 'made-on-1', 'two', { IfNoneMatch: '*' }), { status: 412, code: 'PreconditionFailed' })
    assert.deepEqual(await put(clients[2]!, 'made-on-1', 'three', { IfNoneMatch: '*' }), { status: 412, code: 'PreconditionFailed' })
    const swapped = await put(clients[2]!, 'made-on-1', 'swapped', { IfMatch: first.etag! })
    assert.equal(swapped.status, 200)
    assert.deepEqual(await put(clients[1]!, 'made-on-1', 'late', { IfMatch: first.etag! }), { status: 412, code: 'PreconditionFailed' })
    for (const c of clients) await until('every node serves the swap', async () => await read(c, 'made-on-1') === 'swapped')
  })
})
