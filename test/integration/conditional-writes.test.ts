/**
 * Conditional writes (If-None-Match: *, If-Match) with the AWS SDK against
 * real servers: one node without a mesh (the disk store decides), one mesh
 * member (its arbiter is itself), and three processes racing to create the
 * same keys through different nodes: exactly one write of each key wins,
 * and every node serves that one.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand, type S3Client,
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
